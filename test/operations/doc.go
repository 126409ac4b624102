// Package operations is the end-to-end suite of the operations API (issue
// 7, the seven hops of seed Z5): the real binaries (kiwistack-api dev,
// kiwistack-enroll admin …) as separate processes, pcscd with two virtual
// YubiKeys (a founder and a sysadmin) behind vpcd, and the embedded
// step-ca. It needs root, pcscd and vpcd (pcsctest.Require says why it
// skips elsewhere).
package operations
