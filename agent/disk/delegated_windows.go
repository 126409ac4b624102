package disk

// delegated is Windows's hand-off: BitLocker's recovery password
// protector is added and escrowed by Fleet (docs/disk-escrow.md,
// platform/bitlocker for the manage-bde commands).
const delegated = "BitLocker: Fleet adds and escrows the recovery password protector (docs/disk-escrow.md)"
