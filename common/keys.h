/*  keys - CURVE certificates in CZMQ's format, and directories of them
 *
 *  A certificate pair is two files written by zcert_save(): NAME (public key only) and
 *  NAME_secret (both keys). A "keys directory" holds public certificates, one per peer, each
 *  file named after the peer (a school's file is named by its 学校标识码); keys_dir maps a
 *  peer's public key, as zauth reports it in the User-Id of every message, to that name.
 */
#ifndef EDU_KEYS_H
#define EDU_KEYS_H

#include <czmq.h>

/*  Loads a secret certificate (the NAME_secret file), from exactly that file (CZMQ's
 *  zcert_load would read NAME_secret when asked for NAME). Returns the certificate (caller
 *  destroys it) or NULL with err when the file is missing or unreadable, not a certificate,
 *  damaged (its secret key does not give its public key), a public certificate, or when the
 *  public certificate NAME beside it is not its public half. */
zcert_t *keys_load_secret(const char *path, char *err, size_t errlen);

/*  Loads a public certificate, from exactly that file. Returns it or NULL with err, also when
 *  the file holds a secret key (a secret certificate given where a public one belongs). */
zcert_t *keys_load_public(const char *path, char *err, size_t errlen);

/*  Checks a CURVE client's two certificates: secret_path a secret one, server_path the
 *  server's public one, and not the public half of the client's own pair. Returns 0, or -1
 *  with err and *server_bad saying which of the two is wrong. */
int keys_check_client(const char *secret_path, const char *server_path, bool *server_bad, char *err,
                      size_t errlen);

/*  Makes sock a CURVE client of the server whose public certificate is at server_path, with
 *  the secret certificate at secret_path. Returns 0, or -1 with err. */
int keys_curve_client(zsock_t *sock, const char *secret_path, const char *server_path, char *err,
                      size_t errlen);

typedef struct keys_dir_t keys_dir_t;

/*  Reads every public certificate in dir. Hidden files are skipped, and so is — counted in
 *  keys_dir_skipped, with its problem — a file that is not a readable public certificate (a
 *  README, a certificate holding a secret key) and a NAME_secret that is not the pair of the
 *  NAME beside it: one bad file must not lock every other peer out. Returns NULL with err
 *  only when dir cannot be read. */
keys_dir_t *keys_dir_load(const char *dir, char *err, size_t errlen);
void keys_dir_destroy(keys_dir_t **self_p);

/*  How many files of the directory were skipped because they are not readable public
 *  certificates (a README, a secret, a file the service may not read); the first one's problem
 *  in *problem (borrowed; may be NULL). The others' keys are loaded all the same. */
size_t keys_dir_skipped(const keys_dir_t *self, const char **problem);
/*  The name bound to a Z85 public key, or NULL. Borrowed. */
const char *keys_dir_name(keys_dir_t *self, const char *public_txt);
size_t keys_dir_count(keys_dir_t *self);
/*  Who holds a key, as the certificate's `name` metadata says (edu-keygen --name), or its file
 *  name; NULL when the key is not in the directory. Borrowed. */
const char *keys_dir_person(keys_dir_t *self, const char *public_txt);

#endif
