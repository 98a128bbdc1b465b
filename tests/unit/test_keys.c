/*  test_keys - certificates read from exactly the file named, of the kind asked for, in pairs
 *  that match */
#include "keys.h"
#include "util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *s_dir;

static void s_setup(void)
{
    s_dir = xstrdup("/tmp/test_keys_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
}

static void s_teardown(void)
{
    char *cmd = xasprintf("rm -rf '%s'", s_dir);
    cr_expect_eq(system(cmd), 0);
    free(cmd);
    free(s_dir);
}

TestSuite(keys, .init = s_setup, .fini = s_teardown);

/*  A new pair saved as DIR/name and DIR/name_secret; returns its public key (caller frees). */
static char *s_pair(const char *name)
{
    zcert_t *cert = zcert_new();
    zcert_set_meta(cert, "name", "%s", name);
    char *path = xasprintf("%s/%s", s_dir, name);
    cr_assert_eq(zcert_save(cert, path), 0);
    char *public_txt = xstrdup(zcert_public_txt(cert));
    zcert_destroy(&cert);
    free(path);
    return public_txt;
}

static char *s_path(const char *name)
{
    return xasprintf("%s/%s", s_dir, name);
}

static void s_copy(const char *from, const char *to)
{
    char *cmd = xasprintf("cp '%s/%s' '%s/%s'", s_dir, from, s_dir, to);
    cr_assert_eq(system(cmd), 0);
    free(cmd);
}

Test(keys, each_file_is_read_as_it_is)
{
    char *a = s_pair("a");
    char *pub = s_path("a"), *sec = s_path("a_secret");
    char err[512] = "";
    // zcert_load("DIR/a") would read a_secret beside it: a public certificate comes back public
    zcert_t *cert = keys_load_public(pub, err, sizeof err);
    cr_assert_not_null(cert, "%s", err);
    cr_expect_str_eq(zcert_public_txt(cert), a);
    cr_expect_str_eq(zcert_secret_txt(cert), "0000000000000000000000000000000000000000");
    cr_expect_str_eq(zcert_meta(cert, "name"), "a", "metadata kept");
    zcert_destroy(&cert);
    cert = keys_load_secret(sec, err, sizeof err);
    cr_assert_not_null(cert, "%s", err);
    cr_expect_str_eq(zcert_public_txt(cert), a);
    zcert_destroy(&cert);
    // and a secret certificate asked for by its public name is not found through it
    cr_expect_null(keys_load_secret(pub, err, sizeof err));
    cr_expect(strstr(err, "as a secret certificate: it is a public one"), "%s", err);
    free(pub), free(sec), free(a);
}

Test(keys, the_wrong_kind_is_refused)
{
    free(s_pair("a"));
    char *sec = s_path("a_secret"), *junk = s_path("junk"), *none = s_path("none");
    FILE *f = fopen(junk, "w");
    fputs("not a certificate\n", f);
    fclose(f);
    char err[512] = "";
    cr_expect_null(keys_load_public(sec, err, sizeof err));
    cr_expect(strstr(err, "as a public certificate: it holds a secret key"), "%s", err);
    cr_expect_null(keys_load_public(junk, err, sizeof err));
    cr_expect(strstr(err, "not a CZMQ certificate"), "%s", err);
    cr_expect_null(keys_load_secret(junk, err, sizeof err));
    cr_expect(strstr(err, "not a CZMQ certificate"), "%s", err);
    cr_expect_null(keys_load_secret(none, err, sizeof err));
    cr_expect(strstr(err, "could not read certificate"), "%s", err);
    cr_expect_null(keys_load_public(s_dir, err, sizeof err));
    cr_expect(strstr(err, "could not read certificate") && strstr(err, "Is a directory"), "%s",
              err);
    // a large file is not read whole to find out
    f = fopen(junk, "w");
    for (int i = 0; i < 70000; i++)
        fputc('x', f);
    fclose(f);
    cr_expect_null(keys_load_public(junk, err, sizeof err));
    cr_expect(strstr(err, "not a CZMQ certificate (70000 bytes"), "%s", err);
    free(sec), free(junk), free(none);
}

Test(keys, halves_of_two_pairs_are_refused)
{
    free(s_pair("a"));
    free(s_pair("b"));
    s_copy("b_secret", "a_secret"); // a's public half beside b's secret
    char *sec = s_path("a_secret");
    char err[512] = "";
    cr_expect_null(keys_load_secret(sec, err, sizeof err));
    cr_expect(strstr(err, "is not its public half"), "%s", err);
    // a secret file whose two keys are of two pairs
    zcert_t *b = zcert_new(), *d = zcert_new();
    zcert_t *mixed = zcert_new_from(zcert_public_key(b), zcert_secret_key(d));
    char *mixed_path = s_path("d");
    cr_assert_eq(zcert_save(mixed, mixed_path), 0);
    zcert_destroy(&mixed), zcert_destroy(&b), zcert_destroy(&d);
    free(mixed_path);
    char *damaged = s_path("d_secret");
    cr_expect_null(keys_load_secret(damaged, err, sizeof err));
    cr_expect(strstr(err, "its secret key does not belong to its public key"), "%s", err);
    free(sec), free(damaged);
}

Test(keys, a_client_and_its_server)
{
    free(s_pair("school"));
    free(s_pair("county"));
    char *school_sec = s_path("school_secret"), *school = s_path("school");
    char *county = s_path("county"), *county_sec = s_path("county_secret");
    char err[512] = "";
    bool server_bad = true;
    cr_expect_eq(keys_check_client(school_sec, county, &server_bad, err, sizeof err), 0, "%s", err);
    // swapped
    cr_expect_eq(keys_check_client(county, school_sec, &server_bad, err, sizeof err), -1);
    cr_expect_not(server_bad);
    cr_expect_eq(keys_check_client(school_sec, county_sec, &server_bad, err, sizeof err), -1);
    cr_expect(server_bad);
    cr_expect(strstr(err, "holds a secret key"), "%s", err);
    // its own public half as the server's
    cr_expect_eq(keys_check_client(school_sec, school, &server_bad, err, sizeof err), -1);
    cr_expect(server_bad);
    cr_expect(strstr(err, "is the public half of the secret certificate"), "%s", err);
    free(school_sec), free(school), free(county), free(county_sec);
}

Test(keys, directories)
{
    char *dir = s_path("clients");
    cr_assert_eq(mkdir(dir, 0700), 0);
    free(s_pair("2143004052"));
    free(s_pair("2143004053"));
    s_copy("2143004052", "clients/2143004052");
    s_copy("2143004053", "clients/2143004053");
    char err[512] = "";
    keys_dir_t *keys = keys_dir_load(dir, err, sizeof err);
    cr_assert_not_null(keys, "%s", err);
    cr_expect_eq(keys_dir_count(keys), 2);
    keys_dir_destroy(&keys);
    // a pair in the directory: counted once, as long as its halves match
    s_copy("2143004052_secret", "clients/2143004052_secret");
    keys = keys_dir_load(dir, err, sizeof err);
    cr_assert_not_null(keys, "%s", err);
    cr_expect_eq(keys_dir_count(keys), 2);
    keys_dir_destroy(&keys);
    // a pair that does not match is skipped and named (one bad file locks nobody out)
    const char *problem;
    s_copy("2143004053_secret", "clients/2143004052_secret");
    keys = keys_dir_load(dir, err, sizeof err);
    cr_assert_not_null(keys, "%s", err);
    cr_expect_eq(keys_dir_skipped(keys, &problem), 1);
    cr_expect(strstr(problem, "are not one pair"), "%s", problem);
    cr_expect_eq(keys_dir_count(keys), 2);
    keys_dir_destroy(&keys);
    // a secret certificate under a public name: skipped, the others in force
    s_copy("2143004052_secret", "clients/2143004052_secret");
    s_copy("2143004053_secret", "clients/2143004053");
    keys = keys_dir_load(dir, err, sizeof err);
    cr_assert_not_null(keys, "%s", err);
    cr_expect_eq(keys_dir_skipped(keys, &problem), 1);
    cr_expect(strstr(problem, "holds a secret key"), "%s", problem);
    cr_expect_eq(keys_dir_count(keys), 1);
    keys_dir_destroy(&keys);
    free(dir);
}
