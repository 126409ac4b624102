package disk

// delegated is macOS's hand-off: FileVault's personal recovery key is
// escrowed by Fleet's MDM through the FDERecoveryKeyEscrow profile
// (docs/disk-escrow.md, launchers/mobileconfig FileVaultEscrow).
const delegated = "FileVault: Fleet escrows the personal recovery key through its FDERecoveryKeyEscrow profile (docs/disk-escrow.md)"
