/*  status - inbox/状态.txt: what a school's staff read about their collector
 *
 *  status_render() is a pure function of what the collector passes in, so the page can be
 *  tested word by word; status_write() only puts it in place.
 */
#include "status.h"

#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void status_format_time(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t) (ms / 1000) + 8 * 3600; // China time, whatever the machine's zone
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

void status_format_duration(int64_t ms, char *buf, size_t size)
{
    int64_t s = ms < 0 ? 0 : ms / 1000;
    if (s < 60)
        snprintf(buf, size, "%" PRId64 " 秒", s);
    else if (s < 3600)
        snprintf(buf, size, "%" PRId64 " 分 %" PRId64 " 秒", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, size, "%" PRId64 " 小时 %" PRId64 " 分", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, size, "%" PRId64 " 天 %" PRId64 " 小时", s / 86400, s % 86400 / 3600);
}

void status_format_count(uint64_t n, char *buf, size_t size)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%" PRIu64, n);
    size_t used = 0;
    for (int i = 0; i < len && used + 2 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[used++] = ' ';
        buf[used++] = digits[i];
    }
    if (size)
        buf[used < size ? used : size - 1] = '\0';
}

/*  The sentence naming what the link says is wrong ("" when it says nothing particular). */
static void s_cause(FILE *f, const status_t *s)
{
    const sender_status_t *link = s->link;
    if (!link)
        return;
    switch (link->link) {
    case SENDER_LINK_KEY_REFUSED:
        fprintf(f,
                "县级平台拒绝了本校的密钥：本校的公钥文件还没有在县教育局登记、登记在了别的学校"
                "名下，或已被撤销。\n");
        return;
    case SENDER_LINK_NO_ROUTE:
        fprintf(
            f, "本机连不上县级平台（%s）：可能是网络不通、地址或端口写错了，或县级平台没有运行。\n",
            s->endpoint);
        return;
    case SENDER_LINK_HANDSHAKE:
        fprintf(f,
                "本机连上了县级平台，但加密握手没有成功：本机配置的县级平台证书（[curve] server）"
                "可能不对。\n");
        return;
    case SENDER_LINK_UP:
    case SENDER_LINK_UNKNOWN: break;
    }
    if (link->last_status == 1) // RETRY
        fprintf(f, "县级平台有应答，但暂时无法保存数据（%s）：这是县里的问题，请告诉县教育局。\n",
                link->detail);
    else if (link->last_status == 3) // INVALID
        fprintf(f, "县级平台拒收本机发送的数据（%s）：可能是县级平台与本机的程序版本不一致。\n",
                link->detail);
    else if (link->link == SENDER_LINK_UP)
        fprintf(f, "本机连得上县级平台，但没有收到它的确认：县级平台可能很忙，或出了故障。\n");
}

static void s_files(FILE *f, const status_t *s)
{
    size_t n = s->receipts ? receipts_count(s->receipts) : 0;
    if (n == 0)
        return;
    fprintf(f, "\n最近收取的文件（最新的在前）：\n");
    for (size_t k = 0; k < n && k < STATUS_FILES; k++) {
        const receipt_t *r = receipts_get(s->receipts, n - 1 - k);
        char taken[32], at[32];
        status_format_time(r->taken_ms, taken, sizeof taken);
        fprintf(f, "  %s  %s：", taken, r->name);
        if (r->records == 0 && r->rows_refused)
            fprintf(f, "没有可以发送的记录，见 rejected/%s.errors.csv", r->name);
        else if (r->records == 0)
            fprintf(f, "没有记录");
        else if (r->delivered_ms) {
            status_format_time(r->delivered_ms, at, sizeof at);
            fprintf(f, "%" PRIu64 " 条记录，已全部送达县级平台（%s），文件在 delivered/ 中",
                    r->records, at);
        } else if (r->first_seq && s->acked >= r->first_seq) {
            char acked[32];
            uint64_t upto = s->acked < r->last_seq ? s->acked : r->last_seq;
            status_format_count(upto - r->first_seq + 1, acked, sizeof acked);
            fprintf(f, "%" PRIu64 " 条记录，已安全保存在本机，县级平台已确认其中 %s 条", r->records,
                    acked);
        } else {
            fprintf(f, "%" PRIu64 " 条记录，已安全保存在本机，等待县级平台确认", r->records);
        }
        if (r->records && (r->rows_refused || r->county_refused)) {
            fprintf(f, "；");
            if (r->rows_refused)
                fprintf(f, "%" PRIu64 " 处格式问题", r->rows_refused);
            if (r->rows_refused && r->county_refused)
                fprintf(f, "、");
            if (r->county_refused)
                fprintf(f, "%" PRIu64 " 条被县级平台拒收", r->county_refused);
            fprintf(f, "，见 rejected/%s.errors.csv", r->name);
        }
        fprintf(f, "\n");
    }
}

char *status_render(const status_t *s)
{
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    if (!f)
        abort(); // out of memory, decided as the allocation wrappers do
    char now[32], at[32], ago[48];
    status_format_time(s->now_ms, now, sizeof now);
    fprintf(f, "\xEF\xBB\xBF学校数据采集状态（学校标识码 %s）\n", s->school);
    fprintf(f, "更新于 %s（北京时间）。本文件由采集程序自动生成，请勿修改。\n\n", now);
    fprintf(f, "县级平台地址：%s\n", s->endpoint);
    if (s->last_ack_ms) {
        status_format_time(s->last_ack_ms, at, sizeof at);
        status_format_duration(s->now_ms - s->last_ack_ms, ago, sizeof ago);
        fprintf(f, "县级平台最近一次确认收到数据：%s（%s前）\n", at, ago);
    } else {
        fprintf(f, "县级平台最近一次确认收到数据：还没有收到过县级平台的确认\n");
    }
    if (s->pending == 0) {
        fprintf(f, "等待发送的记录：0 条（收到的数据都已送达县级平台）\n");
    } else if (s->waiting_since_ms) {
        status_format_time(s->waiting_since_ms, at, sizeof at);
        status_format_duration(s->now_ms - s->waiting_since_ms, ago, sizeof ago);
        fprintf(f, "等待发送的记录：%" PRIu64 " 条，最早的从 %s 起等待（已 %s）\n", s->pending, at,
                ago);
    } else {
        fprintf(f, "等待发送的记录：%" PRIu64 " 条\n", s->pending);
    }
    if (s->taking) {
        char rows[32];
        status_format_count(s->taking_rows, rows, sizeof rows);
        fprintf(f, "正在读取 %s：已读 %s 行（读完后一起保存，再发送给县级平台）\n", s->taking,
                rows);
    }
    if (s->files_waiting)
        fprintf(f, "收件夹里还没有收取的文件：%" PRIu64 " 个%s\n", s->files_waiting,
                s->spool_full ? "（本机的暂存空间已满，等县级平台确认一部分数据后再收取）"
                              : "（正在写入的文件写完后才收取）");
    if (s->stalled_ms) {
        status_format_duration(s->stalled_ms, ago, sizeof ago);
        fprintf(f,
                "\n【请注意】县级平台已经 %s没有确认收到数据，有 %" PRIu64 " 条记录在等待发送。\n",
                ago, s->pending);
        s_cause(f, s);
        fprintf(f,
                "通常的原因是：网络不通；本机配置的县级平台地址（endpoint）不对；或本校的密钥还没有"
                "在县教育局登记。\n");
        fprintf(f, "请联系%s，告诉对方本校的学校标识码 %s 和这段文字。\n",
                s->contact && *s->contact ? s->contact : "县教育局负责本系统的老师", s->school);
        fprintf(f, "数据都安全地保存在本机，县级平台恢复后会自动补发，不需要重新放入文件。\n");
    }
    if (s->link && s->link->skipped)
        fprintf(f,
                "\n县级平台多次拒收了 %" PRIu64
                " 条记录（认为格式不对），本机已跳过它们，以免耽误后面"
                "的数据；见各文件的 rejected/….errors.csv（原因代码 batch_refused）。\n",
                s->link->skipped);
    if (s->link && s->link->isolating)
        fprintf(f, "县级平台拒收了一批数据（%s），本机正在逐批重发，找出它拒收的记录。\n",
                s->link->detail);
    s_files(f, s);
    fclose(f);
    return out;
}

int status_write(const char *dir, const status_t *status, char *err, size_t errlen)
{
    char *page = status_render(status);
    char *path = xasprintf("%s/%s", dir, STATUS_FILE);
    char *tmp = xasprintf("%s/.%s.tmp", dir, STATUS_FILE);
    int rc = -1;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        errorf(err, errlen, "could not write \"%s\": %s", tmp, strerror(errno));
        goto cleanup;
    }
    bool bad = fputs(page, f) < 0;
    bad = fclose(f) != 0 || bad;
    if (bad || rename(tmp, path) != 0) {
        errorf(err, errlen, "could not write \"%s\": %s", path, strerror(errno));
        unlink(tmp);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(page);
    free(path);
    free(tmp);
    return rc;
}
