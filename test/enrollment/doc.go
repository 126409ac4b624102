// Package enrollment is the end-to-end suite of the enrollment ceremony:
// the real binaries (kiwistack-api dev, kiwistack-enroll) as separate
// processes, pcscd with a virtual YubiKey behind vpcd, the embedded step-ca,
// and a sandbox root for the laptop's files. It also holds the benchmark of a
// whole enrollment over loopback with the virtual key.
package enrollment
