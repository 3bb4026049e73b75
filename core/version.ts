// The kernel's public API version. Plugins declare the range they were written for
// (`kernel: '^1.0.0'`) and the loader refuses a mismatch at boot.
export const KERNEL_VERSION = '1.0.0';
