/* OpenSSL 3 compatibility for Debian's CivetWeb 1.15.
 *
 * libcivetweb1 loads OpenSSL at run time (dlopen("libssl.so")) and looks up its entry points
 * by name. One of them, SSL_get_peer_certificate, exists in OpenSSL 3 only as a macro over
 * SSL_get1_peer_certificate: the lookup yields NULL and the first TLS handshake jumps to
 * address 0. This library carries the soname "libssl.so", depends on the real libssl, and
 * defines the missing function. Linked into Chorus, it is already loaded when CivetWeb asks
 * for "libssl.so", so CivetWeb gets it, and every other symbol resolves through its
 * dependency on OpenSSL. */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate
X509* SSL_get_peer_certificate(const SSL* ssl) { return SSL_get1_peer_certificate(ssl); }

/* Referenced by the server so the linker keeps this library as a dependency. */
int chorus_tls_compat_loaded(void) { return 1; }
