// Package localca is the certificate authority of tls.mode self-signed: a CA
// made once and kept in a directory (so that trusting it once is enough),
// and leaf certificates it signs for shop hosts, kept beside it.
//
// It exists for the demo, tests and benchmarks, where no public CA can reach
// the machine. A leaf found on disk is used as long as it is valid for its
// host and not close to expiry, whoever signed it: a benchmark can drop in
// the very certificate and key it gives nginx, and both servers then do the
// same cryptographic work.
//
// Layout of the directory:
//
//	ca.crt, ca.key            the CA (ECDSA P-256, ten years)
//	leaves/HOST.crt, .key     one leaf per host (ECDSA P-256, 90 days,
//	                          renewed 30 days before expiry)
//
// Private keys are written 0600 and the directory 0700.
package localca
