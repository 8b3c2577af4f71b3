// How the server log names the devices a model version's session sees.
import type { Device } from '../engine/native';

/** '/job:localhost/replica:0/task:0/device:GPU:0' -> 'GPU:0' */
export function shortDeviceName(name: string): string {
  const at = name.lastIndexOf('device:');
  return at < 0 ? name : name.slice(at + 'device:'.length);
}

/**
 * "CPU:0" or "CPU:0, GPU:0 (15.74 GiB)": a GPU's memory is what TF will use
 * of it (after per_process_gpu_memory_fraction); a CPU's figure is nominal
 * and left out.
 */
export function describeDevices(devices: readonly Device[]): string {
  if (devices.length === 0) return 'no devices listed';
  return devices
    .map((d) => (d.type === 'CPU' ? shortDeviceName(d.name) : `${shortDeviceName(d.name)} (${(d.memoryBytes / 2 ** 30).toFixed(2)} GiB)`))
    .join(', ');
}
