/*  report - the province's bulletin (通报) of one academic year, as an Excel workbook or CSV
 *
 *  Each table is one query on the province's views whose columns carry their Chinese headers
 *  (report.c): 概况 (the summary: counties, approval, 优质均衡达标率 per stage, red warnings,
 *  late changes, escalated cases), 排名 (each county's mean CV and share of green schools per
 *  stage, with both ranks), 县级红色预警, 红色学校分布, 逾期修改 (late changes and unlocks),
 *  未审核县 (counties whose year is not approved), 督办事项. In a workbook (libxlsxwriter)
 *  every table is a sheet, numbers are numbers; a CSV file (UTF-8 with BOM, for Excel) has the
 *  tables one after another, each under a line with its name in 【】 and followed by an empty
 *  line.
 */
#ifndef EDU_REPORT_H
#define EDU_REPORT_H

#include <stddef.h>

/*  Writes the bulletin of period (YYYY-YYYY) from the database conninfo to out, a workbook when
 *  out ends in .xlsx, CSV when it ends in .csv. Returns 0, or -1 with err (out is not left half
 *  written: the file is written beside it and renamed). */
int report_write(const char *conninfo, const char *period, const char *out, char *err,
                 size_t errlen);

#endif
