/*
 * aead_speed: throughput of cf_aead_key_encrypt and cf_aead_key_decrypt
 * for every suite, on one thread, with 128 KiB buffers (the default
 * recordsize), in MB/s (10^6 bytes per second): per second of wall-clock
 * time and per second of this thread's CPU time.
 *
 *   build/bench/aead_speed [seconds per measurement] [buffer bytes]
 *
 * Compare with OpenSSL alone on the same buffer size:
 *   openssl speed -aead -evp aes-256-gcm -bytes 131072 -seconds 2
 * reports thousands of bytes per second (divide by 1000 for MB/s) per
 * second of user CPU time, so compare it with the "cpu" columns; add
 * -elapsed to compare with the wall-clock ones.  (-aead makes OpenSSL
 * set an IV, some AAD and a tag per message, as coffer does; without it
 * OpenSSL only streams data through one long message.)  What remains is
 * coffer's per-call overhead: borrowing a pooled context, setting the
 * IV and the tag, and the checks around them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "crypto/crypto.h"

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * MB/s of one direction by wall clock (returned) and by CPU time
 * (*cpu_mbs), or 0 after a failure (reported).  Encryption uses a fresh
 * IV per message, as the data path will; decryption opens the same
 * valid message over and over.  Both run out of place, src into dst.
 */
static double measure(cf_aead_key_t *k, int enc, const uint8_t *src,
    uint8_t *dst, size_t len, uint8_t iv[CF_AEAD_IV_LEN],
    uint8_t tag[CF_AEAD_TAG_LEN], double seconds, double *cpu_mbs)
{
	uint64_t n = 0, t0 = cf_mono_ns(), c0 = cpu_ns();
	double t, c;

	do {
		int i, rc;

		for (i = 0; i < 16; i++, n++) {
			if (enc) {
				le64_put(iv, n);
				rc = cf_aead_key_encrypt(k, iv, NULL, 0, src,
				    len, dst, tag);
			} else {
				rc = cf_aead_key_decrypt(k, iv, NULL, 0, src,
				    len, dst, tag);
			}
			if (rc != 0) {
				fprintf(stderr, "aead_speed: %s: %s\n",
				    enc ? "encrypt" : "decrypt",
				    coffer_strerror(rc));
				return 0;
			}
		}
		t = (double)(cf_mono_ns() - t0) / 1e9;
	} while (t < seconds);
	c = (double)(cpu_ns() - c0) / 1e9;
	*cpu_mbs = c > 0 ? (double)n * (double)len / c / 1e6 : 0;
	return (double)n * (double)len / t / 1e6;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	size_t len = argc > 2 ? (size_t)strtoul(argv[2], NULL, 0) : 128 * 1024;
	uint8_t key[CF_MAX_KEY_LEN], iv[CF_AEAD_IV_LEN], tag[CF_AEAD_TAG_LEN];
	uint8_t *pt, *ct, *out;
	int suite, failed = 0;

	if (argc > 3 || seconds <= 0 || len == 0) {
		fprintf(stderr, "usage: aead_speed [seconds] [buffer bytes]\n");
		return 2;
	}
	pt = malloc(len);
	ct = malloc(len);
	out = malloc(len);
	if (!pt || !ct || !out || cf_random(key, sizeof(key)) != 0 ||
	    cf_random(pt, len) != 0) {
		fprintf(stderr, "aead_speed: setup failed\n");
		return 1;
	}
	printf("MB/s, %zu-byte buffers, %.1f s per measurement\n", len,
	    seconds);
	printf("%-18s %10s %10s %10s %10s\n", "suite", "encrypt", "(cpu)",
	    "decrypt", "(cpu)");
	for (suite = CF_SUITE_NONE + 1; suite <= CF_SUITE_MAX; suite++) {
		cf_aead_key_t *k;
		double e, d = 0, ec = 0, dc = 0;
		int rc;

		rc = cf_aead_key_new(suite, key, &k);
		if (rc == 0 && len > CF_AEAD_CCM_MAX_LEN &&
		    suite <= CF_SUITE_AES_256_CCM)
			rc = -EMSGSIZE;
		if (rc != 0) {
			printf("%-18s %s\n", cf_suite_name(suite),
			    coffer_strerror(rc));
			cf_aead_key_free(k);
			continue;
		}
		/* The last encryption leaves ct, iv and tag as a valid
		 * message for the decryption runs. */
		e = measure(k, 1, pt, ct, len, iv, tag, seconds, &ec);
		if (e > 0)
			d = measure(k, 0, ct, out, len, iv, tag, seconds, &dc);
		if (e == 0 || d == 0)
			failed = 1;
		printf("%-18s %10.1f %10.1f %10.1f %10.1f\n",
		    cf_suite_name(suite), e, ec, d, dc);
		cf_aead_key_free(k);
	}
	cf_wipe(key, sizeof(key));
	free(pt);
	free(ct);
	free(out);
	return failed;
}
