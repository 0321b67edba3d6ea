/** The key store lives with the other repositories (it replicates); the API uses it under this name. */
export {
  type ApiKeyInfo,
  type ApiKeyRecord,
  ApiKeyRepository as ApiKeyStore,
  type ApiKeySubject,
} from '../../store/api-keys.ts'
