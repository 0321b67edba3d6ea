import type Dockerode from 'dockerode'
import { LABEL } from './limits.ts'
import { deadlineSignal } from './timeout.ts'

/**
 * Removes every container labelled with this node id: what a crashed or killed agent left behind.
 * Only this node's containers are touched; another agent on the same engine keeps its own.
 */
export async function removeLeftovers(
  docker: Dockerode,
  nodeId: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<number> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`${LABEL.node}=${nodeId}`] },
    abortSignal: deadlineSignal(timeoutMs, signal),
  } as Dockerode.ContainerListOptions)
  await Promise.all(
    list.map((info) =>
      docker
        .getContainer(info.Id)
        .remove({ force: true, abortSignal: AbortSignal.timeout(timeoutMs) })
        .catch((err: unknown) => {
          if ((err as { statusCode?: number }).statusCode !== 404) throw err
        }),
    ),
  )
  return list.length
}
