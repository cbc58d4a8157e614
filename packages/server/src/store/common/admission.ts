/**
 * What a write may add, the same in both engines: envelopes to a device queue (bounded by `maxQueueDepth`) and
 * attachments to an account (bounded in count and bytes). The engines read the current depths and usage under their
 * own locks and ask these rules whether the write fits; the rules themselves read nothing.
 */
import { QuotaExceededError, deviceNotFound, memberKey, queueFull } from '../repository.js';
import type { AttachmentQuota, AttachmentUsage, GroupMember, NewEnvelope, RepositoryError } from '../repository.js';

/** How many envelopes one write adds to one device queue. */
export interface QueueCount extends GroupMember {
  readonly count: number;
}

/** The envelopes per target queue, in the order the targets first appear in `envelopes`. */
export function countPerQueue(envelopes: readonly NewEnvelope[]): QueueCount[] {
  const counts = new Map<string, { accountId: string; deviceId: number; count: number }>();
  for (const e of envelopes) {
    const key = memberKey(e);
    const target = counts.get(key);
    if (target === undefined) counts.set(key, { accountId: e.accountId, deviceId: e.deviceId, count: 1 });
    else target.count += 1;
  }
  return [...counts.values()];
}

/**
 * Why one enqueue call must store nothing (the contract of Repository.enqueue), or undefined when it fits:
 * DEVICE_NOT_FOUND when a target device does not exist (`depthOf` answers undefined), QUEUE_FULL when a target queue
 * would exceed `maxQueueDepth`. The first such target, in the order of `counts`, decides.
 */
export function refusedEnqueue(
  counts: readonly QueueCount[],
  depthOf: (target: GroupMember) => number | undefined,
  maxQueueDepth: number,
): RepositoryError | undefined {
  for (const target of counts) {
    const current = depthOf(target);
    if (current === undefined) return deviceNotFound();
    if (current + target.count > maxQueueDepth) return queueFull();
  }
  return undefined;
}

/**
 * Which group envelopes are stored (the contract of commitGroup and fanOutGroup): those for devices that still exist
 * (in `depths`, their current queue depth by memberKey) and whose queue stays within `maxQueueDepth`, counted in
 * input order. A full queue misses the envelope, as it would miss one that expired: a group cannot be used to flood a
 * device past the limit that bounds 1:1 sends, and one full queue does not stop the group's delivery to everyone else.
 */
export function withinQueueDepth(envelopes: readonly NewEnvelope[], depths: ReadonlyMap<string, number>, maxQueueDepth: number): NewEnvelope[] {
  const depth = new Map(depths);
  return envelopes.filter((e) => {
    const key = memberKey(e);
    const current = depth.get(key);
    if (current === undefined || current + 1 > maxQueueDepth) return false;
    depth.set(key, current + 1);
    return true;
  });
}

/** The quota that one more attachment of `size` bytes would exceed, if any (the contract of createAttachment). */
export function exceededAttachmentQuota(usage: AttachmentUsage, size: number, quota: AttachmentQuota): QuotaExceededError | undefined {
  if (usage.count + 1 > quota.maxCount) return new QuotaExceededError('attachments', quota.maxCount);
  if (usage.bytes + size > quota.maxBytes) return new QuotaExceededError('attachmentBytes', quota.maxBytes);
  return undefined;
}
