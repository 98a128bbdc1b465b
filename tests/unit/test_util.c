/*  test_util - str_escape: what a peer sends is made safe for one log line */
#include "util.h"

#include <criterion/criterion.h>
#include <string.h>

Test(util, escape_controls)
{
    char buf[128];
    cr_expect_str_eq(str_escape("a\nb\rc\td\\e", buf, sizeof buf), "a\\nb\\rc\\td\\\\e");
    cr_expect_str_eq(str_escape("\x1b[31mred\x7f", buf, sizeof buf), "\\x1b[31mred\\x7f");
    cr_expect_str_eq(str_escape(NULL, buf, sizeof buf), "");
}

Test(util, escape_keeps_utf8_and_marks_invalid_bytes)
{
    char buf[128];
    cr_expect_str_eq(str_escape("生师比", buf, sizeof buf), "生师比");
    cr_expect_str_eq(str_escape("a\xff\xc3z", buf, sizeof buf), "a\\xff\\xc3z");
}

Test(util, escape_cut_at_the_bound)
{
    char buf[8];
    cr_expect_str_eq(str_escape("abcd", buf, sizeof buf), "abcd");      // 4 + terminator fit
    cr_expect_str_eq(str_escape("abcdefghij", buf, sizeof buf), "abcd..."); // cut, marked
    cr_expect_str_eq(str_escape("\n\n\n", buf, sizeof buf), "\\n\\n...");
    cr_expect_str_eq(str_escape("生师比", buf, sizeof buf), "生...");   // never half a character
    char tiny[3];
    cr_expect_str_eq(str_escape("abc", tiny, sizeof tiny), "");
}
