/**
 * Coarse times for what the server stores about accounts and devices (docs/threat-model.md "Stored, per table"): a
 * seized database should not tell to the millisecond when someone registered, linked a device or was last online.
 * Creation times are kept to the hour, "last seen" to the day (UTC), which is all the device list needs.
 */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** `ms` rounded down to the start of its UTC hour. */
export function toHour(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

/** `ms` rounded down to the start of its UTC day. */
export function toDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}
