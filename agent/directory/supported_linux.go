package directory

// Supported says whether this OS logs in directory users through SSSD.
const Supported = true

const notApplicable = ""
