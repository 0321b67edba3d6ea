export { looksLikeZip, normalizeKind, validateName } from './input.ts'
export { FunctionService, type FunctionServiceComponents, type FunctionServiceInit } from './service.ts'
