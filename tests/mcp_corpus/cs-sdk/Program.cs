using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

var builder = Host.CreateApplicationBuilder(args);
builder.Services
    .AddMcpServer(options =>
    {
        options.ServerInfo = new Implementation { Name = "inventory", Version = "1.0.0" };
        options.ServerInstructions = """
            Quantities are whole units.
            Prices are in euros.
            """;
    })
    .WithStdioServerTransport()
    .WithToolsFromAssembly();
await builder.Build().RunAsync();
