/* block-layer private: per-block encryption (blkcrypt.c). */
#ifndef COFFER_BLKCRYPT_H
#define COFFER_BLKCRYPT_H

#include "block/block.h"

/* Seal len bytes of `in` into buf (may be the same); fill bp salt, iv,
 * mac, keygen, flags. */
int cf_blk_encrypt_data(const cf_cryptset_t *cs, cf_blkptr_t *bp,
    const uint8_t *in, uint8_t *buf, size_t len) CF_MUST_CHECK;
int cf_blk_decrypt_data(const cf_cryptset_t *cs, const cf_blkptr_t *bp,
    uint8_t *buf, size_t len) CF_MUST_CHECK;
/* Dnode blocks: only the bonus areas of allocated dnodes. */
int cf_blk_encrypt_dnode(const cf_cryptset_t *cs, cf_blkptr_t *bp,
    uint8_t *blk, size_t len) CF_MUST_CHECK;
int cf_blk_decrypt_dnode(const cf_cryptset_t *cs, const cf_blkptr_t *bp,
    uint8_t *blk, size_t len) CF_MUST_CHECK;

/* The construction, exposed for known-answer tests:
 * key = HKDF-SHA512(master, salt, "coffer block key v1" || suite). */
int cf_blk_derive_key(int suite, const uint8_t *master,
    const uint8_t salt[8], uint8_t *out) CF_MUST_CHECK;
/* The AAD of a data block (returns its length, at most 32). */
size_t cf_blk_data_aad(const cf_blkptr_t *bp, uint8_t aad[32]);

#endif
