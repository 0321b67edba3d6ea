export { CONFIG_FILE, defaultDataDir, envKeys, loadConfig } from './load.ts'
export { type Config, type ConfigInput, configSchema } from './schema.ts'
