export class Catalog { root = "/photos"; tool(name: string) { return name; } }
