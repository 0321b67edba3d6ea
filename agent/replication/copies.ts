/**
 * Counts confirmed copies: this node's, plus each push that resolves true. Resolves when `target`
 * copies are confirmed (every push settled when omitted), or after `timeoutMs`, with the count then.
 */
export function waitCopies(
  pushes: Promise<boolean>[],
  target: number | undefined,
  timeoutMs: number,
): Promise<number> {
  let copies = 1
  const goal = target ?? pushes.length + 1
  if (copies >= goal || pushes.length === 0) return Promise.resolve(copies)
  return new Promise((resolve) => {
    let settled = 0
    const timer = setTimeout(() => resolve(copies), timeoutMs)
    timer.unref?.()
    const done = () => {
      clearTimeout(timer)
      resolve(copies)
    }
    for (const p of pushes) {
      p.then(
        (held) => {
          if (held) copies++
          settled++
          if (copies >= goal || settled === pushes.length) done()
        },
        () => {
          settled++
          if (settled === pushes.length) done()
        },
      )
    }
  })
}
