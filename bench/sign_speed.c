/*
 * sign_speed: the cost of signing and verifying streams, alone, at the
 * codec level (no pool): for records of 8 KiB, 32 KiB, 128 KiB and
 * 1 MiB, a stream of WRITE records is written to memory unsigned, in
 * chain mode and in record mode (Ed25519), then read back plain and
 * through the verifying reader.  MB/s (10^6 bytes of payload per second
 * of wall-clock time; the caller's thread, plus the hashing threads of
 * chain mode: one fewer than the CPUs online).  The record-mode write
 * column is what RFD 14's ceiling table estimates (290, 479, 572 MB/s at
 * 8, 32, 128 KB on a Nehalem core, for signing alone).
 *
 *   build/bench/sign_speed [MiB per measurement, default 256]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "send/signstream.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int gen(cf_buf_t *out, const cf_signkey_t *key, int mode,
    uint32_t bs, uint64_t total)
{
	cf_stream_writer_t *w;
	cf_ssign_t *s = NULL;
	cf_kv_t *kv = cf_kv_new();
	cf_stream_rec_t r;
	uint8_t *blk = malloc(bs);
	uint64_t n = total / bs;
	int err = kv && blk ? cf_stream_writer_new(cf_stream_buf_write, out,
	    &w) : -ENOMEM;

	if (err)
		return err;
	for (uint32_t i = 0; i < bs; i++)
		blk[i] = (uint8_t)(i * 131 + 7);
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_BEGIN;
	r.u.begin.version = CF_STREAM_VERSION;
	r.u.begin.toguid = 42;
	r.u.begin.totxg = 7;
	r.u.begin.dstype = CF_STREAM_DS_FS;
	err = cf_kv_add_str(kv, CF_KV_ROOT, "toname", "bench/fs@s");
	if (!err && key) {
		err = cf_ssign_new(key, mode, 0, 0, &s);
		if (!err)
			err = cf_ssign_begin(s, kv, &r.u.begin.incompat);
		cf_stream_writer_set_sign(w, cf_ssign_hook, s);
	}
	if (!err)
		err = cf_stream_write_kv(w, &r, kv);
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_OBJECT;
	r.u.object.object = 1;
	r.u.object.type = 3;
	r.u.object.nlevels = 4;
	r.u.object.blksz = bs;
	r.u.object.maxblkid = n;
	if (!err)
		err = cf_stream_write(w, &r, NULL, 0);
	for (uint64_t i = 0; i < n && !err; i++) {
		memset(&r, 0, sizeof(r));
		r.type = CF_SREC_WRITE;
		r.u.write.object = 1;
		r.u.write.offset = i * bs;
		r.u.write.blk.lsize = bs;
		r.u.write.blk.psize = bs;
		r.u.write.blk.type = 3;
		err = cf_stream_write(w, &r, blk, bs);
	}
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_END;
	if (!err)
		err = cf_stream_write(w, &r, NULL, 0);
	cf_stream_writer_free(w);
	cf_ssign_free(s);
	cf_kv_free(kv);
	free(blk);
	return err;
}

static int readback(const cf_buf_t *b, const cf_signkey_t *key)
{
	cf_stream_mem_t m = { b->data, b->len, 0 };
	cf_stream_reader_opts_t ro = { 0 };
	cf_stream_rec_t rec;
	const uint8_t *p;
	size_t len;
	int rc;

	ro.flags = CF_SRD_NO_BLOCK_CKSUM;
	if (!key) {
		cf_stream_reader_t *r;
		if ((rc = cf_stream_reader_new(cf_stream_mem_read, &m, &ro,
		    &r)) != 0)
			return rc;
		while ((rc = cf_stream_read(r, &rec, &p, &len)) == 1)
			;
		cf_stream_reader_free(r);
		return rc;
	}
	const cf_signkey_t *keys[1] = { key };
	cf_sverify_opts_t vo = { 0 };
	cf_svreader_t *v;
	vo.keys = keys;
	vo.nkeys = 1;
	vo.require_signed = 1;
	if ((rc = cf_svreader_new(cf_stream_mem_read, &m, &ro, &vo, &v)) != 0)
		return rc;
	while ((rc = cf_svreader_read(v, &rec, &p, &len)) == 1)
		;
	if (rc || !cf_svreader_info(v)->verified)
		fprintf(stderr, "sign_speed: %s\n", cf_svreader_error(v));
	cf_svreader_free(v);
	return rc;
}

int main(int argc, char **argv)
{
	uint64_t total = (uint64_t)(argc > 1 ? atoi(argv[1]) : 256) << 20;
	static const uint32_t sizes[] = { 8192, 32768, 131072, 1048576 };
	static const char *modes[] = { "unsigned", "chain", "record" };
	cf_sigkey_t *sk;
	cf_signkey_t *key;

	if (cf_sigkey_generate(CF_SIG_ED25519, &sk) != 0 ||
	    cf_sign_wrap(sk, "bench", &key) != 0) {
		fprintf(stderr, "sign_speed: no key\n");
		return 1;
	}
	printf("%-9s %-9s %12s %12s %8s\n", "record", "mode", "write MB/s",
	    "read MB/s", "sigs");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int m = 0; m < 3; m++) {
			cf_buf_t b = { 0 };
			const cf_signkey_t *k = m ? key : NULL;
			double t0 = now();
			int err = gen(&b, k, m == 2 ? CF_SSIGN_RECORD :
			    CF_SSIGN_CHAIN, sizes[i], total);
			double t1 = now();
			if (!err)
				err = readback(&b, k);
			double t2 = now();
			if (err) {
				fprintf(stderr, "sign_speed: error %d: %s\n",
				    err, coffer_errdetail());
				return 1;
			}
			uint64_t data = total / sizes[i] * sizes[i];
			uint64_t sigs = 0;
			for (size_t off = 0; off + 512 <= b.len;
			    off += 512 + ((le64_get(b.data + off + 16) + 7) &
			    ~7ull))
				sigs += le16_get(b.data + off + 276) != 0;
			printf("%-9u %-9s %12.0f %12.0f %8llu\n", sizes[i] >> 10,
			    modes[m], data / (t1 - t0) / 1e6,
			    data / (t2 - t1) / 1e6, (unsigned long long)sigs);
			cf_buf_free(&b);
		}
	}
	printf("(record in KiB; MB = 10^6 bytes of payload; chain mode hashes "
	    "on threads)\n");
	cf_signkey_free(key);
	return 0;
}
