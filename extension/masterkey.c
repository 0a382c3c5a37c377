/*
 * masterkey.c
 *		The AES-256 master key that seals every secret warden stores.
 *
 * The key is read from the file named by warden.master_key_file. When that
 * setting is empty, warden keeps the key in warden_master.key in the data
 * directory and creates it, with a random key, the first time a backend
 * needs it: a new installation works with no set-up, and production points
 * the setting at a mounted secret instead. A configured file that is
 * missing is an error, never silently replaced: a new key would leave every
 * sealed secret unreadable.
 *
 * The file holds 32 bytes as 64 hexadecimal digits or as base64, optionally
 * followed by white space. Like PostgreSQL's own ssl_key_file, it must not be
 * readable by others: mode 0600, or 0640 when owned by root.
 *
 * Each backend reads the file once and keeps the key in process memory; a
 * change of the setting (SIGHUP) makes the next use read it again.
 *
 * Rotation: point warden.master_key_file at a new key and list the old
 * file in warden.master_key_previous_files; secrets sealed with the old key
 * still open (each names its key by id), and warden.rotate_master_key()
 * seals them all again with the new one, after which the old file can go. Messages
 * name the file, never any part of its contents.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#include "hex.h"
#include "warden.h"

#define MASTER_KEY_DEFAULT_FILE "warden_master.key"
#define MASTER_KEY_FILE_MAX 256

#define MAX_PREVIOUS_KEYS 8

char	   *warden_master_key_file = NULL;
char	   *warden_master_key_previous_files = NULL;

static bool master_key_loaded = false;
static uint8 master_key[WARDEN_MASTER_KEY_LEN];
static uint32 master_key_id;

/* keys of warden.master_key_previous_files, which only open old secrets */
static bool previous_loaded = false;
static int	nprevious = 0;
static uint8 previous_keys[MAX_PREVIOUS_KEYS][WARDEN_MASTER_KEY_LEN];
static uint32 previous_ids[MAX_PREVIOUS_KEYS];

static char *master_key_path(bool *is_default);
static char *master_key_abs(const char *file);
static void master_key_create(const char *path);
static void master_key_read(const char *path, uint8 *out, uint32 *id);
static bool master_key_parse(const char *text, size_t len,
							 uint8 key[WARDEN_MASTER_KEY_LEN]);

/*
 * Forgets the cached key; the assign hook of warden.master_key_file calls
 * this so that a reload with a new file takes effect at the next use.
 */
void
warden_master_key_reset(void)
{
	OPENSSL_cleanse(master_key, sizeof(master_key));
	master_key_loaded = false;
	OPENSSL_cleanse(previous_keys, sizeof(previous_keys));
	nprevious = 0;
	previous_loaded = false;
}

/*
 * The key with this id: the current one, or one of the previous keys kept
 * so that secrets sealed before a rotation still open. NULL if none.
 */
const uint8 *
warden_master_key_by_id(uint32 key_id)
{
	uint32		current_id;
	const uint8 *current = warden_master_key(&current_id);
	int			i;

	if (key_id == current_id)
		return current;
	if (!previous_loaded)
	{
		char	   *list = pstrdup(warden_master_key_previous_files ?
								   warden_master_key_previous_files : "");
		List	   *files;
		ListCell   *lc;

		if (!SplitDirectoriesString(list, ',', &files))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("warden.master_key_previous_files is not a list of files")));
		nprevious = 0;
		foreach(lc, files)
		{
			char	   *path = master_key_abs((char *) lfirst(lc));

			if (nprevious == MAX_PREVIOUS_KEYS)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("warden.master_key_previous_files names more than %d files",
								MAX_PREVIOUS_KEYS)));
			master_key_read(path, previous_keys[nprevious],
							&previous_ids[nprevious]);
			nprevious++;
		}
		previous_loaded = true;
	}
	for (i = 0; i < nprevious; i++)
		if (previous_ids[i] == key_id)
			return previous_keys[i];
	return NULL;
}

/*
 * Returns the master key (WARDEN_MASTER_KEY_LEN bytes, owned by this module)
 * and its id, loading or creating the key file on first use.
 */
const uint8 *
warden_master_key(uint32 *key_id)
{
	if (!master_key_loaded)
	{
		bool		is_default;
		char	   *path = master_key_path(&is_default);

		if (is_default && access(path, F_OK) != 0 && errno == ENOENT)
			master_key_create(path);
		master_key_read(path, master_key, &master_key_id);
		master_key_loaded = true;
		pfree(path);
	}
	*key_id = master_key_id;
	return master_key;
}

/* A key file's absolute path (relative ones are in the data directory). */
static char *
master_key_abs(const char *file)
{
	if (is_absolute_path(file))
		return pstrdup(file);
	return psprintf("%s/%s", DataDir, file);
}

/* The absolute path of the key file, palloc'd. */
static char *
master_key_path(bool *is_default)
{
	*is_default = warden_master_key_file == NULL ||
		warden_master_key_file[0] == '\0';
	return master_key_abs(*is_default ? MASTER_KEY_DEFAULT_FILE :
						  warden_master_key_file);
}

/*
 * Writes a new random key to a temporary file and links it into place, so
 * that concurrent first uses agree on one key and no backend ever reads a
 * half-written file. Losing the race is fine: the winner's key is read.
 */
static void
master_key_create(const char *path)
{
	uint8		key[WARDEN_MASTER_KEY_LEN];
	char		text[WARDEN_MASTER_KEY_LEN * 2 + 2];
	char	   *tmp = psprintf("%s.%d.tmp", path, MyProcPid);
	int			fd;
	int			i;
	bool		ok;

	if (!pg_strong_random(key, sizeof(key)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random master key")));
	for (i = 0; i < WARDEN_MASTER_KEY_LEN; i++)
		snprintf(text + 2 * i, 3, "%02x", key[i]);
	text[2 * WARDEN_MASTER_KEY_LEN] = '\n';
	text[2 * WARDEN_MASTER_KEY_LEN + 1] = '\0';
	OPENSSL_cleanse(key, sizeof(key));

	fd = OpenTransientFilePerm(tmp, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY,
							   S_IRUSR | S_IWUSR);
	if (fd < 0)
	{
		OPENSSL_cleanse(text, sizeof(text));
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create master key file \"%s\": %m", tmp)));
	}
	ok = write(fd, text, strlen(text)) == (ssize_t) strlen(text) &&
		pg_fsync(fd) == 0;
	OPENSSL_cleanse(text, sizeof(text));
	if (CloseTransientFile(fd) != 0)
		ok = false;
	if (!ok)
	{
		int			save_errno = errno;

		unlink(tmp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write master key file \"%s\": %m", tmp)));
	}

	if (link(tmp, path) == 0)
	{
		char	   *dir = pstrdup(path);

		get_parent_directory(dir);
		fsync_fname(dir, true);
		pfree(dir);
		ereport(LOG,
				(errmsg("warden created a new master key in \"%s\"", path),
				 errhint("Back this file up: the secrets warden stores cannot be read without it. Set warden.master_key_file to use a key kept elsewhere.")));
	}
	else if (errno != EEXIST)
	{
		int			save_errno = errno;

		unlink(tmp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create master key file \"%s\": %m", path)));
	}
	unlink(tmp);
	pfree(tmp);
}

static void
master_key_read(const char *path, uint8 *out, uint32 *id)
{
	struct stat st;
	char		buf[MASTER_KEY_FILE_MAX + 1];
	int			fd;
	ssize_t		n;
	uint8		key[WARDEN_MASTER_KEY_LEN];
	uint8		digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len;
	bool		ok;

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open master key file \"%s\": %m", path),
				 errhint("warden.master_key_file must name a readable file holding a 32-byte key as hex or base64.")));
	if (fstat(fd, &st) != 0)
	{
		int			save_errno = errno;

		CloseTransientFile(fd);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat master key file \"%s\": %m", path)));
	}
	if (!S_ISREG(st.st_mode) ||
		(st.st_uid == geteuid() && (st.st_mode & (S_IRWXG | S_IRWXO))) ||
		(st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO))) ||
		(st.st_uid != geteuid() && st.st_uid != 0))
	{
		CloseTransientFile(fd);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("master key file \"%s\" has wrong ownership or permissions", path),
				 errdetail("It must be a regular file owned by the database user with mode 0600, or owned by root with mode 0640 or less.")));
	}

	n = read(fd, buf, MASTER_KEY_FILE_MAX + 1);
	CloseTransientFile(fd);
	ok = n > 0 && n <= MASTER_KEY_FILE_MAX && master_key_parse(buf, n, key);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("master key file \"%s\" does not hold a valid key", path),
				 errhint("The file must hold 32 random bytes as 64 hexadecimal digits or as base64.")));

	/*
	 * The key id is a digest of the key, so a ciphertext can name the key
	 * that sealed it without revealing anything about it.
	 */
	if (!EVP_Digest(key, sizeof(key), digest, &digest_len, EVP_sha256(), NULL))
	{
		OPENSSL_cleanse(key, sizeof(key));
		elog(ERROR, "could not compute the master key id");
	}
	memcpy(out, key, sizeof(key));
	OPENSSL_cleanse(key, sizeof(key));
	*id = (uint32) digest[0] << 24 | (uint32) digest[1] << 16 |
		(uint32) digest[2] << 8 | digest[3];
}

/* Accepts 64 hex digits or base64 of 32 bytes, with trailing white space. */
static bool
master_key_parse(const char *text, size_t len, uint8 key[WARDEN_MASTER_KEY_LEN])
{
	char		decoded[WARDEN_MASTER_KEY_LEN + 3];
	size_t		i;
	int			n;

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
					   text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;

	if (len == 2 * WARDEN_MASTER_KEY_LEN)
	{
		for (i = 0; i < WARDEN_MASTER_KEY_LEN; i++)
		{
			int			hi = hex_nibble(text[2 * i]);
			int			lo = hex_nibble(text[2 * i + 1]);

			if (hi < 0 || lo < 0)
				return false;
			key[i] = (uint8) (hi << 4 | lo);
		}
		return true;
	}

	/* base64 of 32 bytes: 44 characters, the last one padding */
	if (len != 44 || text[43] != '=' || text[42] == '=')
		return false;
	n = EVP_DecodeBlock((unsigned char *) decoded, (const unsigned char *) text,
						(int) len);
	if (n != WARDEN_MASTER_KEY_LEN + 1)
	{
		OPENSSL_cleanse(decoded, sizeof(decoded));
		return false;
	}
	memcpy(key, decoded, WARDEN_MASTER_KEY_LEN);
	OPENSSL_cleanse(decoded, sizeof(decoded));
	return true;
}
