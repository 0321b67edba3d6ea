/**
 * W3C Trace Context (`traceparent`, https://www.w3.org/TR/trace-context/#traceparent-header):
 * `version-traceid-parentid-flags` in lower-case hex. An invocation that carries one keeps it in
 * its activation record (annotation `traceparent`), on whichever node it runs, so an external
 * tracer can join the hops.
 */
export const TRACEPARENT_RE = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/

/**
 * The header when it is a valid trace context, else null (the spec: an invalid one is ignored, not
 * an error). Version `ff` and all-zero ids are invalid; a future version may append fields, of which
 * the first four are kept.
 */
export function parseTraceparent(header: string | string[] | undefined): string | null {
  if (typeof header !== 'string' || header.length > 512) return null
  const v = header.trim()
  const version = v.slice(0, 2)
  const head = version === '00' ? v : v.slice(0, 55)
  if (!TRACEPARENT_RE.test(head) || version === 'ff') return null
  if (version !== '00' && v.length > 55 && v[55] !== '-') return null
  const [, traceId, parentId] = head.split('-') as [string, string, string, string]
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return null
  return head
}
