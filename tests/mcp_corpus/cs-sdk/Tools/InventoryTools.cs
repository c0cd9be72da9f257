using System.ComponentModel;
using ModelContextProtocol.Server;

namespace Inventory.Tools;

[McpServerToolType]
public sealed class InventoryTools
{
    private const string CountDescription = "Count the units of an item " + "in stock.";

    private readonly IInventoryStore _store;

    public InventoryTools(IInventoryStore store) => _store = store;

    [McpServerTool(ReadOnly = true), Description(CountDescription)]
    public int CountItems([Description("The item SKU")] string sku) => 0;

    [McpServerTool(Name = "remove_item", Destructive = true, Idempotent = false, Title = "Remove item")]
    [Description(@"Remove an item from the catalog. ""Removed"" items cannot be sold.")]
    public async Task<string> RemoveAsync(
        [Description("The item SKU")] string sku,
        [Description("Why it is removed")] string? reason = null,
        IProgress<ProgressNotificationValue>? progress = null,
        CancellationToken cancellationToken = default) => "";

    [McpServerTool, Description("Restock an item.")]
    public static async Task RestockItemAsync(string sku, int quantity = 10, double price = 2.5, bool notify = true) { }

    // Not a tool: no attribute.
    public string DeleteAll() => "";
}

[McpServerPromptType]
public static class InventoryPrompts
{
    [McpServerPrompt(Name = "stock_report"), Description("Write a stock report")]
    public static string StockReport([Description("Which warehouse")] string warehouse) => "";
}

[McpServerResourceType]
public static class InventoryResources
{
    [McpServerResource(UriTemplate = "inventory://items/{sku}", Name = "item", MimeType = "application/json")]
    [Description("One item")]
    public static string Item(string sku) => "";
}

[McpServerResourceType]
public static class DerivedResources
{
    [McpServerResource, Description("Stock levels per warehouse")]
    public static string StockLevels(string warehouse, int limit = 10) => "";
}
