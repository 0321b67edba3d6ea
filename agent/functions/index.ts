export { looksLikeZip, normalizeKind, resolveKind, validateName } from './input.ts'
export { PACKAGE_MESSAGES, type PackageInput, PackageService, type Resolved } from './packages.ts'
export { FunctionService, type FunctionServiceComponents, type FunctionServiceInit } from './service.ts'
