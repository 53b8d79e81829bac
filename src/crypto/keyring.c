/*
 * keyring: keep a loaded key for later processes of the same user, in the
 * Linux kernel's user keyring (add_key(2), keyctl(2)).  The kernel holds
 * it in unswappable memory; it never touches a file.  Only processes of
 * the same uid can read it, which is the trust boundary coffer's keys
 * have anyway (the pool files are that user's).
 *
 * Where the kernel refuses keyrings (some containers), every call fails
 * with -ENOSYS/-EPERM and keys simply last for one process.
 */
#include "crypto/crypto.h"

#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static long k_add(const char *desc, const void *p, size_t n)
{
	return syscall(SYS_add_key, "user", desc, p, n, KEY_SPEC_USER_KEYRING);
}

static long k_search(const char *desc)
{
	return syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user",
	    desc, 0);
}

int cf_keyring_store(const char *desc, const void *key, size_t len)
{
	long id = k_add(desc, key, len);
	if (id < 0)
		return -errno;
	/* possessor and user: view, read, write, search, link, setattr */
	if (syscall(SYS_keyctl, KEYCTL_SETPERM, id, 0x3f3f0000) != 0)
		return -errno;
	return 0;
}

int cf_keyring_load(const char *desc, void *key, size_t len)
{
	long id = k_search(desc);
	if (id < 0)
		return errno == ENOKEY ? -ENOENT : -errno;
	long n = syscall(SYS_keyctl, KEYCTL_READ, id, key, len);
	if (n < 0)
		return -errno;
	if ((size_t)n != len) {
		cf_wipe(key, len);
		return -EINVAL;
	}
	return 0;
}

int cf_keyring_remove(const char *desc)
{
	long id = k_search(desc);
	if (id < 0)
		return errno == ENOKEY ? 0 : -errno;
	if (syscall(SYS_keyctl, KEYCTL_INVALIDATE, id) != 0 &&
	    syscall(SYS_keyctl, KEYCTL_REVOKE, id) != 0)
		return -errno;
	return 0;
}
