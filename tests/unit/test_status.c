/*  test_status - 状态.txt word by word: the county silent or answering, the cause when the link
 *  says it, whom to call, the files and where their errors are
 */
#include "status.h"
#include "util.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1764720000000LL // 2025-12-03 00:00:00 UTC, 08:00:00 China time

Test(status, times_in_china_time)
{
    char buf[64];
    status_format_time(T0, buf, sizeof buf);
    cr_expect_str_eq(buf, "2025-12-03 08:00:00");
    status_format_duration(59999, buf, sizeof buf);
    cr_expect_str_eq(buf, "59 秒");
    status_format_duration(310000, buf, sizeof buf);
    cr_expect_str_eq(buf, "5 分 10 秒");
    status_format_duration(7500000, buf, sizeof buf);
    cr_expect_str_eq(buf, "2 小时 5 分");
    status_format_duration(3 * 86400000LL + 4 * 3600000LL, buf, sizeof buf);
    cr_expect_str_eq(buf, "3 天 4 小时");
}

Test(status, all_delivered)
{
    sender_status_t link = {.link = SENDER_LINK_UP, .last_status = 0};
    status_t s = {.school = "2143004052",
                  .endpoint = "tcp://county:5555",
                  .contact = "",
                  .now_ms = T0 + 11000,
                  .last_ack_ms = T0,
                  .link = &link};
    char *page = status_render(&s);
    cr_expect_eq(strncmp(page, "\xEF\xBB\xBF", 3), 0, "UTF-8 with BOM");
    cr_expect_not_null(strstr(page, "学校标识码 2143004052"));
    cr_expect_not_null(strstr(page, "2025-12-03 08:00:00（11 秒前）"), "%s", page);
    cr_expect_not_null(strstr(page, "等待发送的记录：0 条"));
    cr_expect_null(strstr(page, "请注意"));
    free(page);
}

Test(status, silent_county_and_its_causes)
{
    static const struct {
        sender_link_t link; // what the monitor said
        int last_status;    // the last answer
        const char *must;   // the cause's words
    } cases[] = {
        {SENDER_LINK_NO_ROUTE, -1, "连不上县级平台（tcp://county:5555）"},
        {SENDER_LINK_KEY_REFUSED, -1, "拒绝了本校的密钥"},
        {SENDER_LINK_HANDSHAKE, -1, "握手"},
        {SENDER_LINK_UP, 1, "暂时无法保存数据（database down）"},
        {SENDER_LINK_UP, 3, "版本"},
        {SENDER_LINK_UP, -1, "没有收到它的确认"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sender_status_t link = {.link = cases[i].link, .last_status = cases[i].last_status};
        snprintf(link.detail, sizeof link.detail, "database down");
        status_t s = {.school = "2143004052",
                      .endpoint = "tcp://county:5555",
                      .contact = i % 2 ? "县电教馆 王老师 0731-12345678" : "",
                      .now_ms = T0 + 400000,
                      .pending = 120,
                      .waiting_since_ms = T0,
                      .stalled_ms = 310000,
                      .link = &link};
        char *page = status_render(&s);
        cr_expect_not_null(
            strstr(page, "【请注意】县级平台已经 5 分 10 秒没有确认收到数据，有 120 条"), "%s",
            page);
        cr_expect_not_null(strstr(page, cases[i].must), "case %zu: %s", i, page);
        cr_expect_not_null(strstr(page, "密钥还没有在县教育局登记"));
        cr_expect_not_null(strstr(page, i % 2 ? "请联系县电教馆 王老师 0731-12345678"
                                              : "请联系县教育局负责本系统的老师"));
        cr_expect_not_null(strstr(page, "最早的从 2025-12-03 08:00:00 起等待（已 6 分 40 秒）"));
        cr_expect_not_null(strstr(page, "还没有收到过县级平台的确认"));
        free(page);
    }
}

Test(status, files_and_write)
{
    char *dir = xstrdup("/tmp/test_status.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char err[256];
    receipts_t *r = receipts_open(dir, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    receipt_t a = {
        .name = "data.csv", .taken_ms = T0, .first_seq = 1, .last_seq = 17, .records = 17};
    receipt_t b = {.name = "bad.csv", .taken_ms = T0 + 1000, .rows_refused = 3};
    receipt_t c = {.name = "more.csv",
                   .taken_ms = T0 + 2000,
                   .first_seq = 18,
                   .last_seq = 20,
                   .records = 3,
                   .rows_refused = 1};
    receipts_add(r, &a, err, sizeof err);
    receipts_add(r, &b, err, sizeof err);
    receipts_add(r, &c, err, sizeof err);
    receipts_add_refused(r, "more.csv", 2);
    receipts_deliver(r, 17, T0 + 5000);
    sender_status_t link = {.link = SENDER_LINK_UP, .skipped = 1};
    status_t s = {.school = "2143004052",
                  .endpoint = "tcp://county:5555",
                  .now_ms = T0 + 9000,
                  .last_ack_ms = T0 + 5000,
                  .pending = 3,
                  .link = &link,
                  .receipts = r,
                  .files_waiting = 1};
    cr_assert_eq(status_write(dir, &s, err, sizeof err), 0, "%s", err);
    char *path = xasprintf("%s/%s", dir, STATUS_FILE);
    size_t size = 0;
    char *page = file_read_all(path, &size, err, sizeof err);
    cr_assert_not_null(page);
    const char *more =
        strstr(page, "more.csv：3 条记录，已安全保存在本机，等待县级平台确认；1 处格式问题"
                     "、2 条被县级平台拒收，见 rejected/more.csv.errors.csv");
    const char *bad = strstr(page, "bad.csv：没有可以发送的记录，见 rejected/bad.csv.errors.csv");
    const char *data =
        strstr(page, "data.csv：17 条记录，已全部送达县级平台（2025-12-03 08:00:05），"
                     "文件在 delivered/ 中");
    cr_expect_not_null(more, "%s", page);
    cr_expect_not_null(bad, "%s", page);
    cr_expect_not_null(data, "%s", page);
    cr_expect(more < bad && bad < data, "newest first");
    cr_expect_not_null(strstr(page, "batch_refused"));
    cr_expect_not_null(strstr(page, "还没有收取的文件：1 个"));
    free(page);
    free(path);
    receipts_destroy(&r);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
    free(cmd);
    free(dir);
}

//  A big file: while it is read, how many rows so far; once taken, how many of its records the
//  county has confirmed while the rest wait.
Test(status, big_file_progress)
{
    char buf[32];
    static const struct {
        uint64_t n;
        const char *want;
    } counts[] = {
        {0, "0"}, {999, "999"}, {1000, "1 000"}, {300000, "300 000"}, {1234567, "1 234 567"}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        status_format_count(counts[i].n, buf, sizeof buf);
        cr_expect_str_eq(buf, counts[i].want);
    }

    char *dir = xstrdup("/tmp/test_status.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char err[256];
    receipts_t *r = receipts_open(dir, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    receipt_t a = {.name = "a.csv", .taken_ms = T0, .first_seq = 1, .last_seq = 10, .records = 10};
    receipt_t big = {.name = "big.csv",
                     .taken_ms = T0 + 1000,
                     .first_seq = 11,
                     .last_seq = 1000010,
                     .records = 1000000};
    receipts_add(r, &a, err, sizeof err);
    receipts_add(r, &big, err, sizeof err);
    receipts_deliver(r, 300010, T0 + 5000);
    status_t s = {.school = "2143004052",
                  .endpoint = "tcp://county:5555",
                  .now_ms = T0 + 9000,
                  .pending = 700000,
                  .receipts = r,
                  .acked = 300010,
                  .taking = "data.csv",
                  .taking_rows = 300000};
    char *page = status_render(&s);
    cr_expect_not_null(strstr(page, "正在读取 data.csv：已读 300 000 行"), "%s", page);
    cr_expect_not_null(strstr(page, "big.csv：1000000 条记录，已安全保存在本机，县级平台已确认"
                                    "其中 300 000 条"),
                       "%s", page);
    cr_expect_not_null(strstr(page, "a.csv：10 条记录，已全部送达县级平台"), "%s", page);
    free(page);
    s.acked = 1000020; // past its last record, before receipts_deliver() has seen the mark
    page = status_render(&s);
    cr_expect_not_null(strstr(page, "县级平台已确认其中 1 000 000 条"), "%s", page);
    free(page);
    s.taking = NULL;
    s.acked = 10; // nothing of big.csv yet
    page = status_render(&s);
    cr_expect_null(strstr(page, "正在读取"));
    cr_expect_not_null(strstr(page, "big.csv：1000000 条记录，已安全保存在本机，等待县级平台确认"),
                       "%s", page);
    free(page);
    receipts_destroy(&r);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
    free(cmd);
    free(dir);
}
