export class Registry {
  registerTool(name: string, config: object, cb: () => void) {}
}
