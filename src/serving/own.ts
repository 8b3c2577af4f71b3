// Records keyed by names that come from clients and config files: a name
// such as '__proto__', 'constructor' or 'toString' must be a key like any
// other, never reach Object.prototype. Reads check own keys; writes define
// own properties (plain `obj[key] = v` with key '__proto__' would set the
// prototype instead). The records stay plain objects, so they compare and
// print as before.

/** The value of an own key, else undefined. */
export function getOwn<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Sets record[key] as an own, enumerable property, whatever the key. */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
}
