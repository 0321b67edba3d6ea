export { apiKeyFor, providesApiKey } from './api-key.ts'
export { looksLikeZip, normalizeKind, validateName } from './input.ts'
export { checkSequence, SEQUENCE_MESSAGES } from './sequence.ts'
export { FunctionService, type FunctionServiceComponents, type FunctionServiceInit } from './service.ts'
