/*
 * Unit tests of lib/toml: table-driven good documents (typed lookups and
 * positions) and bad documents (exact position and message), plus the
 * API contract, limits and fuzz regressions.
 */
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "migrate/error.h"
#include "migrate/toml.h"

#include "toml/toml_int.h"

/* A document literal and its length (it may hold NUL bytes). */
#define D(s)	s, sizeof(s) - 1

struct good_case {
	const char		*doc;
	size_t			 len;
	const char		*path;	/* see walk() */
	enum mig_toml_type	 type;
	const char		*want;	/* see render() */
	unsigned		 line, col;
};

struct bad_case {
	const char	*doc;
	size_t		 len;
	unsigned	 line, col;
	const char	*msg;
};

static const struct good_case good[] = {
	/* Strings. */
	{ D("a = \"x\\ty\\\"z\\\\\""), "a", MIG_TOML_STRING, "x\ty\"z\\",
	    1, 5 },
	{ D("a = \"\\b\\f\\n\\r\""), "a", MIG_TOML_STRING, "\b\f\n\r", 1, 5 },
	{ D("a = \"\\u00e9\\U0001F600\""), "a", MIG_TOML_STRING,
	    "\xc3\xa9\xf0\x9f\x98\x80", 1, 5 },
	{ D("a = \"\\uD7FF\\uE000\\U0010FFFF\""), "a", MIG_TOML_STRING,
	    "\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf", 1, 5 },
	{ D("a = 'C:\\path\\n'"), "a", MIG_TOML_STRING, "C:\\path\\n", 1, 5 },
	{ D("a = \"\"\"\nline1\nline2\"\"\""), "a", MIG_TOML_STRING,
	    "line1\nline2", 1, 5 },
	{ D("a = \"\"\"\r\nx\r\ny\"\"\""), "a", MIG_TOML_STRING, "x\ny",
	    1, 5 },
	{ D("a = \"\"\"one \\\n   two \\  \n\n  three\"\"\""), "a",
	    MIG_TOML_STRING, "one two three", 1, 5 },
	{ D("a = \"\"\"q\"\"\"\"\""), "a", MIG_TOML_STRING, "q\"\"", 1, 5 },
	{ D("a = \"\"\"\"q\"\"\""), "a", MIG_TOML_STRING, "\"q", 1, 5 },
	{ D("a = '''\n raw \\n '' '''"), "a", MIG_TOML_STRING,
	    " raw \\n '' ", 1, 5 },
	{ D("a = ''''x'''''"), "a", MIG_TOML_STRING, "'x''", 1, 5 },
	{ D("a = \"tab\there\""), "a", MIG_TOML_STRING, "tab\there", 1, 5 },
	{ D("a = \"\xe2\x82\xac\xf0\x9f\x98\x80\""), "a", MIG_TOML_STRING,
	    "\xe2\x82\xac\xf0\x9f\x98\x80", 1, 5 },
	{ D("a = \"\""), "a", MIG_TOML_STRING, "", 1, 5 },
	{ D("a = \"\"\"\"\"\""), "a", MIG_TOML_STRING, "", 1, 5 },
	{ D("a = ''''''"), "a", MIG_TOML_STRING, "", 1, 5 },
	{ D("a = \"\"\"\\\r\n\"\"\""), "a", MIG_TOML_STRING, "", 1, 5 },
	/* Integers. */
	{ D("a = 42"), "a", MIG_TOML_INTEGER, "42", 1, 5 },
	{ D("a = +17"), "a", MIG_TOML_INTEGER, "17", 1, 5 },
	{ D("a = -0"), "a", MIG_TOML_INTEGER, "0", 1, 5 },
	{ D("a = 1_000_000"), "a", MIG_TOML_INTEGER, "1000000", 1, 5 },
	{ D("a = 9223372036854775807"), "a", MIG_TOML_INTEGER,
	    "9223372036854775807", 1, 5 },
	{ D("a = -9223372036854775808"), "a", MIG_TOML_INTEGER,
	    "-9223372036854775808", 1, 5 },
	{ D("a = 0xDEAD_beef"), "a", MIG_TOML_INTEGER, "3735928559", 1, 5 },
	{ D("a = 0x7fffffffffffffff"), "a", MIG_TOML_INTEGER,
	    "9223372036854775807", 1, 5 },
	{ D("a = 0o755"), "a", MIG_TOML_INTEGER, "493", 1, 5 },
	{ D("a = 0b1101_0110"), "a", MIG_TOML_INTEGER, "214", 1, 5 },
	{ D("a = 0x0000_0001"), "a", MIG_TOML_INTEGER, "1", 1, 5 },
	/* Floats. */
	{ D("a = 3.14"), "a", MIG_TOML_FLOAT, "3.1400000000000001", 1, 5 },
	{ D("a = -0.5e-3"), "a", MIG_TOML_FLOAT, "-0.00050000000000000001",
	    1, 5 },
	{ D("a = 5e+22"), "a", MIG_TOML_FLOAT, "4.9999999999999996e+22",
	    1, 5 },
	{ D("a = 1E6"), "a", MIG_TOML_FLOAT, "1000000", 1, 5 },
	{ D("a = 6.626_070e-3_4"), "a", MIG_TOML_FLOAT,
	    "6.6260700000000002e-34", 1, 5 },
	{ D("a = 0e0"), "a", MIG_TOML_FLOAT, "0", 1, 5 },
	{ D("a = -0.0"), "a", MIG_TOML_FLOAT, "-0", 1, 5 },
	{ D("a = 1e-400"), "a", MIG_TOML_FLOAT, "0", 1, 5 },
	{ D("a = inf"), "a", MIG_TOML_FLOAT, "inf", 1, 5 },
	{ D("a = +inf"), "a", MIG_TOML_FLOAT, "inf", 1, 5 },
	{ D("a = -inf"), "a", MIG_TOML_FLOAT, "-inf", 1, 5 },
	{ D("a = nan"), "a", MIG_TOML_FLOAT, "nan", 1, 5 },
	{ D("a = -nan"), "a", MIG_TOML_FLOAT, "nan", 1, 5 },
	/* Booleans. */
	{ D("a = true"), "a", MIG_TOML_BOOL, "true", 1, 5 },
	{ D("a = false # no"), "a", MIG_TOML_BOOL, "false", 1, 5 },
	/* Dates and times. */
	{ D("a = 1979-05-27T07:32:00Z"), "a", MIG_TOML_DATETIME,
	    "1979-05-27T07:32:00Z", 1, 5 },
	{ D("a = 1979-05-27t07:32:00z"), "a", MIG_TOML_DATETIME,
	    "1979-05-27T07:32:00Z", 1, 5 },
	{ D("a = 1979-05-27 00:32:00.999999-07:00"), "a", MIG_TOML_DATETIME,
	    "1979-05-27T00:32:00.999999-07:00", 1, 5 },
	{ D("a = 1979-05-27T00:32:00.5+05:30"), "a", MIG_TOML_DATETIME,
	    "1979-05-27T00:32:00.500+05:30", 1, 5 },
	{ D("a = 1979-05-27T00:32:00.1234567891234Z"), "a",
	    MIG_TOML_DATETIME, "1979-05-27T00:32:00.123456789Z", 1, 5 },
	{ D("a = 1979-05-27T07:32:00"), "a", MIG_TOML_DATETIME_LOCAL,
	    "1979-05-27T07:32:00", 1, 5 },
	{ D("a = 1979-05-27"), "a", MIG_TOML_DATE_LOCAL, "1979-05-27", 1, 5 },
	{ D("a = 1979-05-27 # date"), "a", MIG_TOML_DATE_LOCAL,
	    "1979-05-27", 1, 5 },
	{ D("a = 00:32:00.999"), "a", MIG_TOML_TIME_LOCAL, "00:32:00.999",
	    1, 5 },
	{ D("a = 2000-02-29"), "a", MIG_TOML_DATE_LOCAL, "2000-02-29", 1, 5 },
	{ D("a = 2024-02-29"), "a", MIG_TOML_DATE_LOCAL, "2024-02-29", 1, 5 },
	{ D("a = 0000-01-01"), "a", MIG_TOML_DATE_LOCAL, "0000-01-01", 1, 5 },
	{ D("a = 9999-12-31T23:59:59-23:59"), "a", MIG_TOML_DATETIME,
	    "9999-12-31T23:59:59-23:59", 1, 5 },
	/* Arrays. */
	{ D("a = [ 1, 'two', [3.0], {x = 4}, ]"), "a", MIG_TOML_ARRAY, "[4]",
	    1, 5 },
	{ D("a = [ 1, 'two', [3.0], {x = 4}, ]"), "a/1", MIG_TOML_STRING,
	    "two", 1, 10 },
	{ D("a = [ 1, 'two', [3.0], {x = 4}, ]"), "a/3/x", MIG_TOML_INTEGER,
	    "4", 1, 29 },
	{ D("a = [\n  1, # one\n\n  2 # two\n  ,\n]"), "a/1",
	    MIG_TOML_INTEGER, "2", 4, 3 },
	{ D("a = []"), "a", MIG_TOML_ARRAY, "[0]", 1, 5 },
	{ D("a = [[], [[]]]"), "a/1/0", MIG_TOML_ARRAY, "[0]", 1, 11 },
	/* Inline tables. */
	{ D("a = {}"), "a", MIG_TOML_TABLE, "{0}", 1, 5 },
	{ D("a = { x.y = 1, x.z = 2 }"), "a/x", MIG_TOML_TABLE, "{2}", 1, 7 },
	{ D("a = { b = { c = [ { d = 1 } ] } }"), "a/b/c/0/d",
	    MIG_TOML_INTEGER, "1", 1, 25 },
	{ D("a = { b = [\n 1,\n 2 ] }"), "a/b/1", MIG_TOML_INTEGER, "2",
	    3, 2 },
	/* Keys. */
	{ D("\"a b\" = 1"), "a b", MIG_TOML_INTEGER, "1", 1, 9 },
	{ D("'x.y' = 1"), "x.y", MIG_TOML_INTEGER, "1", 1, 9 },
	{ D("a . b . c = 1"), "a/b/c", MIG_TOML_INTEGER, "1", 1, 13 },
	{ D("3.14159 = 'pi'"), "3/14159", MIG_TOML_STRING, "pi", 1, 11 },
	{ D("true = 1\n1234 = 2"), "true", MIG_TOML_INTEGER, "1", 1, 8 },
	{ D("a.\"\" = 1"), "a/", MIG_TOML_INTEGER, "1", 1, 8 },
	{ D("-_- = 1"), "-_-", MIG_TOML_INTEGER, "1", 1, 7 },
	{ D("\"\xc3\xa9t\xc3\xa9\" = \"\xe2\x82\xac\""), "\xc3\xa9t\xc3\xa9",
	    MIG_TOML_STRING, "\xe2\x82\xac", 1, 9 },
	/* Tables. */
	{ D("[a]\nx = 1\n[b]\nx = 2"), "b/x", MIG_TOML_INTEGER, "2", 4, 5 },
	{ D("[a.b]\n[a]\nx = 1"), "a", MIG_TOML_TABLE, "{2}", 2, 1 },
	{ D("[a.b.c]\n[a]\nb.d = 1"), "a/b/d", MIG_TOML_INTEGER, "1", 3, 7 },
	{ D("[a]\nb.c = 1\n[a.b.d]\ne = 2"), "a/b/d/e", MIG_TOML_INTEGER,
	    "2", 4, 5 },
	{ D("[ a . \"b\" ]\nx = 1"), "a/b/x", MIG_TOML_INTEGER, "1", 2, 5 },
	{ D("[[a]]\nx = 1\n[[a]]\nx = 2"), "a", MIG_TOML_ARRAY, "[2]", 1, 1 },
	{ D("[[a]]\nx = 1\n[[a]]\nx = 2"), "a/1/x", MIG_TOML_INTEGER, "2",
	    4, 5 },
	{ D("[[a]]\n[a.b]\nx = 1\n[[a]]\n[a.b]\nx = 2"), "a/1/b/x",
	    MIG_TOML_INTEGER, "2", 6, 5 },
	{ D("[[a.b]]\n[[a.b]]\n[a]\nc = 1"), "a/b", MIG_TOML_ARRAY, "[2]",
	    1, 1 },
	{ D("[[a]]\nb.c = 1\n[[a]]\nb.c = 2"), "a/1/b/c", MIG_TOML_INTEGER,
	    "2", 4, 7 },
	/* Whitespace, comments, line endings, BOM. */
	{ D(""), "", MIG_TOML_TABLE, "{0}", 1, 1 },
	{ D("\xef\xbb\xbf" "a = 1"), "a", MIG_TOML_INTEGER, "1", 1, 5 },
	{ D("# c\r\n\r\n\ta\t=\t1\t# c \xc3\xa9\r\n"), "a", MIG_TOML_INTEGER,
	    "1", 3, 6 },
	{ D("a = 1 # tab\there"), "a", MIG_TOML_INTEGER, "1", 1, 5 },
	{ D("\n\n  [t]  # x\n  k = 'v'"), "t", MIG_TOML_TABLE, "{1}", 3, 3 },
};

static const struct bad_case bad[] = {
	/* Keys and structure. */
	{ D("a = 1\na = 2"), 2, 1, "duplicate key 'a' (first defined at "
	    "line 1)" },
	{ D("a = 1\n\"a\" = 2"), 2, 1, "duplicate key 'a' (first defined at "
	    "line 1)" },
	{ D("a = "), 1, 5, "expected a value, found end of input" },
	{ D("a\n= 1"), 1, 2, "expected '=' after key, found end of line" },
	{ D(" = 1"), 1, 2, "expected a key or table header, found '='" },
	{ D("a.b. = 1"), 1, 6, "expected a key, found '='" },
	{ D("\"a\" \"b\" = 1"), 1, 5, "expected '=' after key, found '\"'" },
	{ D("\"\"\"a\"\"\" = 1"), 1, 3, "expected '=' after key, found '\"'" },
	{ D("a = 1 b = 2"), 1, 7, "expected end of line after value, found "
	    "'b'" },
	{ D("a = true1"), 1, 5, "invalid value 'true1'" },
	{ D("a = tru"), 1, 5, "invalid value 'tru'" },
	{ D("a = value"), 1, 5, "invalid value 'value'" },
	{ D("a = .5"), 1, 5, "expected a value, found '.'" },
	{ D("\xc3\xa9 = 1"), 1, 1, "expected a key or table header, found "
	    "U+00E9" },
	{ D("a = \"\xc3\xa9\" x"), 1, 9, "expected end of line after value, "
	    "found 'x'" },
	/* Strings. */
	{ D("a = \"abc"), 1, 5, "unterminated string" },
	{ D("a = \"abc\n\""), 1, 9, "newline in single-line string" },
	{ D("a = '''abc''"), 1, 5, "unterminated string" },
	{ D("a = \"\\q\""), 1, 6, "invalid escape sequence '\\q'" },
	{ D("a = \"\\x41\""), 1, 6, "invalid escape sequence '\\x'" },
	{ D("a = \"\\e\""), 1, 6, "invalid escape sequence '\\e'" },
	{ D("a = \"\\ \n\""), 1, 6, "invalid escape sequence '\\ '" },
	{ D("a = \"\\uD800\""), 1, 6, "invalid escape: U+D800 is not a "
	    "Unicode scalar value" },
	{ D("a = \"\\uDFFF\""), 1, 6, "invalid escape: U+DFFF is not a "
	    "Unicode scalar value" },
	{ D("a = \"\\U00110000\""), 1, 6, "invalid escape: U+110000 is not a "
	    "Unicode scalar value" },
	{ D("a = \"\\u12\""), 1, 6, "invalid escape: \\u needs 4 hex digits" },
	{ D("a = \"\\U1234567\""), 1, 6, "invalid escape: \\U needs 8 hex "
	    "digits" },
	{ D("a = \"\"\"abc\\   x\n\"\"\""), 1, 11, "invalid escape: only "
	    "whitespace may follow a line-ending backslash" },
	{ D("a = \"x\ty\x01\""), 1, 9, "control character U+0001 is not "
	    "allowed" },
	{ D("a = 'x\x7f'"), 1, 7, "control character U+007F is not allowed" },
	{ D("a = \"\"\"x\ry\"\"\""), 1, 9, "control character U+000D is not "
	    "allowed" },
	{ D("a = '''\x00'''"), 1, 8, "control character U+0000 is not "
	    "allowed" },
	/* Comments and line endings. */
	{ D("# c\x7f"), 1, 4, "control character U+007F is not allowed" },
	{ D("a = 1 # \x0c"), 1, 9, "control character U+000C is not "
	    "allowed" },
	{ D("a = 1\rb = 2"), 1, 6, "expected end of line after value, found "
	    "carriage return without line feed" },
	{ D("\r"), 1, 1, "expected a key or table header, found carriage "
	    "return without line feed" },
	{ D("a = 1 # x\r"), 1, 10, "control character U+000D is not "
	    "allowed" },
	{ D("\x0b"), 1, 1, "expected a key or table header, found control "
	    "character U+000B" },
	/* UTF-8. */
	{ D("a = \"\xc0\xaf\""), 1, 6, "invalid UTF-8" },
	{ D("a = \"\xe0\x80\xaf\""), 1, 6, "invalid UTF-8" },
	{ D("a = \"\xed\xa0\x80\""), 1, 6, "invalid UTF-8" },
	{ D("a = \"\xf4\x90\x80\x80\""), 1, 6, "invalid UTF-8" },
	{ D("a = \"\xf8\x88\x80\x80\x80\""), 1, 6, "invalid UTF-8" },
	{ D("a = \"\xe2\x82\""), 1, 6, "invalid UTF-8" },
	{ D("a = '\xc3\xa9\x80'"), 1, 7, "invalid UTF-8" },
	{ D("# \xc3\xa9\xc3"), 1, 4, "invalid UTF-8" },
	{ D("a = 1 \xff"), 1, 7, "expected end of line after value, found "
	    "invalid UTF-8" },
	{ D("a = \"x\"\n\xef\xbb\xbf"), 2, 1, "expected a key or table "
	    "header, found U+FEFF" },
	/* Integers. */
	{ D("a = 01"), 1, 5, "invalid number '01': leading zeros are not "
	    "allowed" },
	{ D("a = -0_1"), 1, 5, "invalid number '-0_1': leading zeros are not "
	    "allowed" },
	{ D("a = 1__0"), 1, 5, "invalid number '1__0': '_' must be between "
	    "digits" },
	{ D("a = 1_"), 1, 5, "invalid number '1_': '_' must be between "
	    "digits" },
	{ D("a = _1"), 1, 5, "invalid value '_1'" },
	{ D("a = 0x"), 1, 5, "invalid number '0x': expected digits after the "
	    "base prefix" },
	{ D("a = 0x_1"), 1, 5, "invalid number '0x_1': '_' must be between "
	    "digits" },
	{ D("a = 0X1"), 1, 5, "invalid number '0X1': unexpected character" },
	{ D("a = 0o8"), 1, 5, "invalid number '0o8': expected digits after "
	    "the base prefix" },
	{ D("a = 0b102"), 1, 5, "invalid number '0b102': unexpected "
	    "character" },
	{ D("a = +0x10"), 1, 5, "invalid number '+0x10': hex, octal and "
	    "binary integers take no sign" },
	{ D("a = -0b1"), 1, 5, "invalid number '-0b1': hex, octal and "
	    "binary integers take no sign" },
	{ D("a = 10x1"), 1, 5, "invalid number '10x1': unexpected "
	    "character" },
	{ D("a = ++1"), 1, 5, "invalid number '++1': expected digits" },
	{ D("a = 9223372036854775808"), 1, 5, "integer "
	    "'9223372036854775808' is out of range" },
	{ D("a = -9223372036854775809"), 1, 5, "integer "
	    "'-9223372036854775809' is out of range" },
	{ D("a = 0x8000000000000000"), 1, 5, "integer '0x8000000000000000' "
	    "is out of range" },
	{ D("a = 99999999999999999999999"), 1, 5, "integer "
	    "'99999999999999999999999' is out of range" },
	{ D("a = 1:2"), 1, 5, "invalid date or time '1:2'" },
	/* Floats. */
	{ D("a = 1."), 1, 5, "invalid number '1.': expected digits after "
	    "'.'" },
	{ D("a = 1.e5"), 1, 5, "invalid number '1.e5': expected digits after "
	    "'.'" },
	{ D("a = 1e"), 1, 5, "invalid number '1e': expected digits in the "
	    "exponent" },
	{ D("a = 1e_5"), 1, 5, "invalid number '1e_5': '_' must be between "
	    "digits" },
	{ D("a = 1_.5"), 1, 5, "invalid number '1_.5': '_' must be between "
	    "digits" },
	{ D("a = 1.2.3"), 1, 5, "invalid number '1.2.3': unexpected "
	    "character" },
	{ D("a = 03.14"), 1, 5, "invalid number '03.14': leading zeros are "
	    "not allowed" },
	{ D("a = 1.5e400"), 1, 5, "float '1.5e400' is out of range" },
	{ D("a = infinity"), 1, 5, "invalid number 'infinity': unexpected "
	    "character" },
	{ D("a = Inf"), 1, 5, "invalid value 'Inf'" },
	{ D("a = nan_"), 1, 5, "invalid number 'nan_': unexpected "
	    "character" },
	/* Dates and times. */
	{ D("a = 2021-02-29"), 1, 5, "invalid date: day 29 out of range for "
	    "2021-02" },
	{ D("a = 1900-02-29"), 1, 5, "invalid date: day 29 out of range for "
	    "1900-02" },
	{ D("a = 2021-04-31"), 1, 5, "invalid date: day 31 out of range for "
	    "2021-04" },
	{ D("a = 2021-01-00"), 1, 5, "invalid date: day 00 out of range for "
	    "2021-01" },
	{ D("a = 2000-13-01"), 1, 5, "invalid date: month 13 out of range" },
	{ D("a = 2000-1-01"), 1, 5, "invalid date: expected YYYY-MM-DD" },
	{ D("a = 10000-01-01"), 1, 5, "invalid date or time '10000-01-01'" },
	{ D("a = 2000-01-01T24:00:00"), 1, 5, "invalid time: 24:00:00 out of "
	    "range" },
	{ D("a = 2000-01-01T23:60:00"), 1, 5, "invalid time: 23:60:00 out of "
	    "range" },
	{ D("a = 2000-01-01T23:59:60Z"), 1, 5, "invalid time: 23:59:60 out "
	    "of range" },
	{ D("a = 2000-01-01T23:59"), 1, 5, "invalid time: expected "
	    "HH:MM:SS" },
	{ D("a = 2000-01-01T1:00:00"), 1, 5, "invalid time: expected "
	    "HH:MM:SS" },
	{ D("a = 2000-01-01T00:00:00."), 1, 5, "invalid time: expected "
	    "digits after '.'" },
	{ D("a = 2000-01-01T23:59:59+24:00"), 1, 5, "invalid time offset: "
	    "+24:00 out of range" },
	{ D("a = 2000-01-01T23:59:59+01"), 1, 5, "invalid time offset: "
	    "expected +HH:MM or -HH:MM" },
	{ D("a = 2000-01-01T23:59:59+0100"), 1, 5, "invalid time offset: "
	    "expected +HH:MM or -HH:MM" },
	{ D("a = 2000-01-01 23:59:59x"), 1, 24, "expected end of line after "
	    "value, found 'x'" },
	{ D("a = 12:00"), 1, 5, "invalid time: expected HH:MM:SS" },
	{ D("a = 12:00:00Z"), 1, 13, "expected end of line after value, "
	    "found 'Z'" },
	/* Arrays. */
	{ D("a = [1, 2"), 1, 10, "expected ',' or ']' in array, found end of "
	    "input" },
	{ D("a = [1 2]"), 1, 8, "expected ',' or ']' in array, found '2'" },
	{ D("a = [,]"), 1, 6, "expected a value, found ','" },
	{ D("a = [1,,2]"), 1, 8, "expected a value, found ','" },
	/* Inline tables. */
	{ D("a = {x = 1,}"), 1, 12, "trailing comma not allowed in inline "
	    "table" },
	{ D("a = {x = 1\n}"), 1, 11, "expected ',' or '}' in inline table, "
	    "found end of line" },
	{ D("a = {\nx = 1}"), 1, 6, "expected a key, found end of line" },
	{ D("a = {x = 1, x = 2}"), 1, 13, "duplicate key 'x' (first defined "
	    "at line 1)" },
	{ D("a = {x = 1}\na.y = 2"), 2, 1, "cannot add keys to inline table "
	    "'a' (line 1)" },
	{ D("a = {x = 1}\n[a.b]"), 2, 2, "cannot add a table to inline table "
	    "'a' (line 1)" },
	{ D("a = {x = 1}\n[a]"), 2, 2, "cannot define table 'a': already "
	    "defined as an inline table (line 1)" },
	{ D("a = {x = {y = 1}, x.z = 2}"), 1, 19, "cannot add keys to inline "
	    "table 'x' (line 1)" },
	{ D("a = {b.c = 1}\n[a.b]"), 2, 2, "cannot add a table to inline "
	    "table 'a' (line 1)" },
	{ D("[t]\na = {b.c = 1}\n[t.a.b]"), 3, 4, "cannot add a table to "
	    "inline table 't.a' (line 2)" },
	{ D("a = [{b = 1}]\n[[a]]"), 2, 3, "cannot append to static array "
	    "'a' (line 1)" },
	/* Tables and redefinitions. */
	{ D("[a]\n[a]"), 2, 2, "table 'a' defined twice (first at line 1)" },
	{ D("[a.b]\n[a]\n[a.b]"), 3, 4, "table 'a.b' defined twice (first at "
	    "line 1)" },
	{ D("[a]\n[b]\n[a]"), 3, 2, "table 'a' defined twice (first at line "
	    "1)" },
	{ D("a.b = 1\n[a]"), 2, 2, "cannot define table 'a': already defined "
	    "by dotted keys (line 1)" },
	{ D("[a]\nb.c = 1\n[a.b]"), 3, 4, "cannot define table 'a.b': "
	    "already defined by dotted keys (line 2)" },
	{ D("[a.b.c]\n[a]\nb.c.d = 1"), 3, 3, "cannot add keys to table "
	    "'b.c' with dotted keys: it is defined by a header (line 1)" },
	{ D("[a.b]\n[a]\nb.c = 1"), 3, 1, "cannot add keys to table 'b' "
	    "with dotted keys: it is defined by a header (line 1)" },
	{ D("[x]\na.b = 1\n[y]\n[x.a.c]\n[x]"), 5, 2, "table 'x' defined "
	    "twice (first at line 1)" },
	{ D("a = [1]\n[[a]]"), 2, 3, "cannot append to static array 'a' "
	    "(line 1)" },
	{ D("a = [1]\n[a.b]"), 2, 2, "cannot add a table to static array 'a' "
	    "(line 1)" },
	{ D("[[a]]\n[a]"), 2, 2, "cannot define table 'a': key already "
	    "defined as an array (line 1)" },
	{ D("[a]\n[[a]]"), 2, 3, "cannot define array of tables 'a': key "
	    "already defined as a table (line 1)" },
	{ D("a = 1\n[a.b]"), 2, 2, "cannot use 'a' as a table: it is an "
	    "integer (line 1)" },
	{ D("a = 1\n[a]"), 2, 2, "cannot define table 'a': key already "
	    "defined as an integer (line 1)" },
	{ D("a.b = 1\na.b.c = 2"), 2, 3, "cannot use 'a.b' as a table: it is "
	    "an integer (line 1)" },
	{ D("[a]\nx = 1\n[a.x]"), 3, 4, "cannot define table 'a.x': key "
	    "already defined as an integer (line 2)" },
	{ D("[[a.b]]\n[a]\nb.c = 1"), 3, 1, "cannot use 'b' as a table: it "
	    "is an array (line 1)" },
	{ D("[a.b]\n[a]\nb = 1"), 3, 1, "duplicate key 'b' (first defined at "
	    "line 1)" },
	{ D("[ a ] x"), 1, 7, "expected end of line after table header, found "
	    "'x'" },
	{ D("[a"), 1, 3, "expected ']' after table name, found end of "
	    "input" },
	{ D("[[a]"), 1, 4, "expected ']]' after table name, found ']'" },
	{ D("[[a] ]"), 1, 4, "expected ']]' after table name, found ']'" },
	{ D("[]"), 1, 2, "expected a key, found ']'" },
	{ D("[a.]"), 1, 4, "expected a key, found ']'" },
	{ D("[a]\n[a.\"b c\"]\n[a.'b c']"), 3, 4, "table 'a.\"b c\"' defined "
	    "twice (first at line 2)" },
	{ D("[a.\"b\\u0001\"]\n[a.\"b\\u0001\"]"), 2, 4, "table "
	    "'a.\"b\\u0001\"' defined twice (first at line 1)" },
	{ D("[a.\"b\x01\"]"), 1, 6, "control character U+0001 is not "
	    "allowed" },
	/* Columns count code points, not bytes; CRLF counts as one line. */
	{ D("\xc3\xa9\xe2\x82\xac = 1"), 1, 1, "expected a key or table "
	    "header, found U+00E9" },
	{ D("'\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80' = 1 x"), 1, 11,
	    "expected end of line after value, found 'x'" },
	{ D("a = 1\r\nb = 2\r\na = 3\r\n"), 3, 1, "duplicate key 'a' (first "
	    "defined at line 1)" },
	{ D("a = \"\"\"\r\n\r\n\"\"\" x"), 3, 5, "expected end of line after "
	    "value, found 'x'" },
};

/* Renders v as the want strings of good[] do. */
static void
render(const struct mig_toml_value *v, char *buf, size_t size)
{
	const char *s;
	double f;
	size_t len;

	switch (mig_toml_type(v)) {
	case MIG_TOML_TABLE:
		(void)snprintf(buf, size, "{%zu}", mig_toml_table_len(v));
		break;
	case MIG_TOML_ARRAY:
		(void)snprintf(buf, size, "[%zu]", mig_toml_array_len(v));
		break;
	case MIG_TOML_STRING:
		s = mig_toml_string(v, &len);
		assert_int_equal(strlen(s), len);
		(void)snprintf(buf, size, "%s", s);
		break;
	case MIG_TOML_INTEGER:
		(void)snprintf(buf, size, "%" PRId64, mig_toml_int(v));
		break;
	case MIG_TOML_FLOAT:
		f = mig_toml_float(v);
		if (isnan(f))
			(void)snprintf(buf, size, "nan");
		else if (isinf(f))
			(void)snprintf(buf, size, "%sinf", f < 0 ? "-" : "");
		else
			(void)snprintf(buf, size, "%.17g", f);
		break;
	case MIG_TOML_BOOL:
		(void)snprintf(buf, size, "%s", mig_toml_bool(v) ? "true" :
		    "false");
		break;
	default:
		(void)snprintf(buf, size, "%s", mig_toml_datetime_text(v));
		break;
	}
}

/* Walks a path of keys split by '/' in which numbers index arrays. */
static const struct mig_toml_value *
walk(const struct mig_toml_value *v, const char *path)
{
	char part[64], *end;
	const char *dot;
	size_t n;

	if (*path == '\0')
		return v;
	for (;;) {
		dot = strchr(path, '/');
		n = dot == NULL ? strlen(path) : (size_t)(dot - path);
		assert_true(n < sizeof(part));
		memcpy(part, path, n);
		part[n] = '\0';
		if (v != NULL && mig_toml_type(v) == MIG_TOML_ARRAY)
			v = mig_toml_array_at(v, strtoul(part, &end, 10));
		else
			v = mig_toml_table_get(v, part);
		if (dot == NULL || v == NULL)
			return v;
		path = dot + 1;
	}
}

static void
test_toml__good(void **state)
{
	const struct good_case *c;
	const struct mig_toml_value *v;
	struct mig_toml_error err;
	struct mig_toml_doc *doc;
	struct mig_toml_pos pos;
	char got[256];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		c = &good[i];
		r = mig_toml_parse(c->doc, c->len, &doc, &err);
		if (r != 0)
			fail_msg("good[%zu] %s: %u:%u: %s", i, c->doc,
			    err.pos.line, err.pos.col, err.msg);
		v = walk(mig_toml_root(doc), c->path);
		if (v == NULL)
			fail_msg("good[%zu]: %s not found", i, c->path);
		if (mig_toml_type(v) != c->type)
			fail_msg("good[%zu]: type %s, want %s", i,
			    mig_toml_type_name(mig_toml_type(v)),
			    mig_toml_type_name(c->type));
		render(v, got, sizeof(got));
		if (strcmp(got, c->want) != 0)
			fail_msg("good[%zu]: value '%s', want '%s'", i, got,
			    c->want);
		pos = mig_toml_value_pos(v);
		if (pos.line != c->line || pos.col != c->col)
			fail_msg("good[%zu]: at %u:%u, want %u:%u", i,
			    pos.line, pos.col, c->line, c->col);
		mig_toml_free(doc);
	}
}

static void
test_toml__bad(void **state)
{
	const struct bad_case *c;
	struct mig_toml_error err;
	struct mig_toml_doc *doc;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = &bad[i];
		doc = (struct mig_toml_doc *)&doc;	/* must be cleared */
		r = mig_toml_parse(c->doc, c->len, &doc, &err);
		if (r == 0)
			mig_toml_free(doc);
		if (r != MIG_ERR_PARSE)
			fail_msg("bad[%zu] %s: returned %d", i, c->doc, r);
		assert_null(doc);
		if (err.pos.line != c->line || err.pos.col != c->col ||
		    strcmp(err.msg, c->msg) != 0)
			fail_msg("bad[%zu]: got %u:%u: %s\n want %u:%u: %s", i,
			    err.pos.line, err.pos.col, err.msg, c->line,
			    c->col, c->msg);
	}
}

/* Parses a document that must be valid. */
static struct mig_toml_doc *
must_parse(const char *buf, size_t len)
{
	struct mig_toml_error err;
	struct mig_toml_doc *doc = NULL;

	if (mig_toml_parse(buf, len, &doc, &err) != 0)
		fail_msg("%u:%u: %s", err.pos.line, err.pos.col, err.msg);
	return doc;
}

static void
test_toml__order_and_positions(void **state)
{
	static const char text[] =
	    "z = 1\n"
	    "a = 2\n"
	    "[m.n]\n"
	    "  k = 3\n"
	    "[m]\n"
	    "  \"q r\".s = 4\n";
	const struct mig_toml_value *root, *m, *t;
	struct mig_toml_doc *doc;
	struct mig_toml_pos pos;
	const char *key;
	size_t len;

	(void)state;
	doc = must_parse(D(text));
	root = mig_toml_root(doc);
	assert_int_equal(mig_toml_table_len(root), 3);
	key = mig_toml_table_key(root, 0, &len);
	assert_string_equal(key, "z");
	assert_int_equal(len, 1);
	assert_string_equal(mig_toml_table_key(root, 1, NULL), "a");
	assert_string_equal(mig_toml_table_key(root, 2, NULL), "m");
	assert_null(mig_toml_table_key(root, 3, &len));
	assert_int_equal(len, 0);
	pos = mig_toml_table_key_pos(root, 1);
	assert_int_equal(pos.line, 2);
	assert_int_equal(pos.col, 1);
	/* [m] defines m after [m.n] made it: the header is its place. */
	m = mig_toml_table_value(root, 2);
	pos = mig_toml_value_pos(m);
	assert_int_equal(pos.line, 5);
	assert_int_equal(pos.col, 1);
	pos = mig_toml_table_key_pos(root, 2);
	assert_int_equal(pos.line, 5);
	assert_int_equal(pos.col, 2);
	assert_string_equal(mig_toml_table_key(m, 0, NULL), "n");
	assert_string_equal(mig_toml_table_key(m, 1, NULL), "q r");
	pos = mig_toml_table_key_pos(m, 1);
	assert_int_equal(pos.line, 6);
	assert_int_equal(pos.col, 3);
	t = mig_toml_get_path(root, "m.n");
	assert_non_null(t);
	pos = mig_toml_value_pos(t);
	assert_int_equal(pos.line, 3);
	assert_int_equal(pos.col, 1);
	assert_int_equal(mig_toml_int(mig_toml_get_path(root, "m.n.k")), 3);
	assert_null(mig_toml_get_path(root, "m.n.k.x"));
	assert_null(mig_toml_get_path(root, "m.x"));
	assert_null(mig_toml_get_path(root, "z.x"));
	assert_null(mig_toml_get_path(root, ""));
	assert_int_equal(mig_toml_int(mig_toml_get_path(root, "z")), 1);
	mig_toml_free(doc);
}

static void
test_toml__api_contract(void **state)
{
	const struct mig_toml_value *root, *s, *i;
	struct mig_toml_error err;
	struct mig_toml_doc *doc;
	size_t len = 99;

	(void)state;
	/* Bad arguments, NULL values and wrong types are harmless. */
	assert_int_equal(mig_toml_parse("a", 1, NULL, &err), MIG_ERR_USAGE);
	assert_int_equal(mig_toml_parse(NULL, 1, &doc, &err), MIG_ERR_USAGE);
	assert_int_equal(mig_toml_parse(NULL, 0, &doc, NULL), 0);
	assert_int_equal(mig_toml_table_len(mig_toml_root(doc)), 0);
	mig_toml_free(doc);
	mig_toml_free(NULL);
	assert_null(mig_toml_root(NULL));
	assert_int_equal(mig_toml_parse("a = ", 4, &doc, NULL),
	    MIG_ERR_PARSE);
	assert_null(doc);

	doc = must_parse(D("s = 'x'\ni = 7"));
	root = mig_toml_root(doc);
	s = mig_toml_table_get(root, "s");
	i = mig_toml_table_get(root, "i");
	assert_int_equal(mig_toml_int(s), 0);
	assert_null(mig_toml_string(i, &len));
	assert_int_equal(len, 0);
	assert_true(mig_toml_float(s) == 0.0);
	assert_false(mig_toml_bool(s));
	assert_null(mig_toml_datetime(s));
	assert_null(mig_toml_datetime_text(i));
	assert_int_equal(mig_toml_table_len(s), 0);
	assert_int_equal(mig_toml_array_len(s), 0);
	assert_null(mig_toml_array_at(s, 0));
	assert_null(mig_toml_table_value(s, 0));
	assert_null(mig_toml_table_get(s, "x"));
	assert_null(mig_toml_table_get(root, NULL));
	assert_null(mig_toml_get_path(root, NULL));
	assert_null(mig_toml_get_path(NULL, "s"));
	assert_null(mig_toml_string(NULL, NULL));
	assert_int_equal(mig_toml_table_key_pos(root, 5).line, 0);
	assert_string_equal(mig_toml_type_name(MIG_TOML_TABLE), "table");
	assert_string_equal(mig_toml_type_name(MIG_TOML_BOOL), "boolean");
	assert_string_equal(mig_toml_type_name(MIG_TOML_TIME_LOCAL),
	    "local time");
	mig_toml_free(doc);
}

static void
test_toml__nul_bytes(void **state)
{
	const struct mig_toml_value *root, *v;
	struct mig_toml_doc *doc;
	const char *s;
	size_t len;

	(void)state;
	doc = must_parse(D("\"k\\u0000x\" = \"a\\u0000b\"\n\"k\" = 1"));
	root = mig_toml_root(doc);
	assert_int_equal(mig_toml_table_len(root), 2);
	s = mig_toml_table_key(root, 0, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "k\0x", 4);
	v = mig_toml_table_value(root, 0);
	s = mig_toml_string(v, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "a\0b", 4);
	/* The NUL-terminated lookup sees "k", the second key. */
	assert_int_equal(mig_toml_int(mig_toml_table_get(root, "k")), 1);
	mig_toml_free(doc);
}

static void
test_toml__datetime_fields(void **state)
{
	const struct mig_toml_datetime *dt;
	const struct mig_toml_value *root;
	struct mig_toml_doc *doc;

	(void)state;
	doc = must_parse(D("a = 1979-05-27T00:32:00.999999-07:30\n"
	    "b = 2024-02-29T23:59:59Z\nc = 12:34:56.000001"));
	root = mig_toml_root(doc);
	dt = mig_toml_datetime(mig_toml_table_get(root, "a"));
	assert_non_null(dt);
	assert_int_equal(dt->year, 1979);
	assert_int_equal(dt->month, 5);
	assert_int_equal(dt->day, 27);
	assert_int_equal(dt->hour, 0);
	assert_int_equal(dt->minute, 32);
	assert_int_equal(dt->second, 0);
	assert_int_equal(dt->nanosecond, 999999000);
	assert_int_equal(dt->offset_minutes, -450);
	assert_false(dt->offset_z);
	dt = mig_toml_datetime(mig_toml_table_get(root, "b"));
	assert_true(dt->offset_z);
	assert_int_equal(dt->offset_minutes, 0);
	dt = mig_toml_datetime(mig_toml_table_get(root, "c"));
	assert_int_equal(dt->hour, 12);
	assert_int_equal(dt->nanosecond, 1000);
	assert_string_equal(mig_toml_datetime_text(mig_toml_table_get(root,
	    "c")), "12:34:56.000001");
	mig_toml_free(doc);
}

static void
test_toml__big_table(void **state)
{
	const struct mig_toml_value *root;
	struct mig_toml_error err;
	struct mig_toml_doc *doc;
	char *text, key[32];
	size_t n = 20000, i, off = 0, cap = n * 32;
	int r;

	(void)state;
	text = malloc(cap);
	assert_non_null(text);
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(text + off, cap - off,
		    "key%zu = %zu\n", i, i);
	doc = must_parse(text, off);
	root = mig_toml_root(doc);
	assert_int_equal(mig_toml_table_len(root), n);
	for (i = 0; i < n; i++) {
		(void)snprintf(key, sizeof(key), "key%zu", i);
		assert_int_equal(mig_toml_int(mig_toml_table_get(root, key)),
		    (int64_t)i);
		assert_string_equal(mig_toml_table_key(root, i, NULL), key);
	}
	assert_null(mig_toml_table_get(root, "key20000"));
	mig_toml_free(doc);
	/* A duplicate at the end is still found, with its first line. */
	off += (size_t)snprintf(text + off, cap - off, "key777 = 0\n");
	r = mig_toml_parse(text, off, &doc, &err);
	assert_int_equal(r, MIG_ERR_PARSE);
	assert_int_equal(err.pos.line, n + 1);
	assert_string_equal(err.msg, "duplicate key 'key777' (first defined "
	    "at line 778)");
	free(text);
}

/* Builds "a = " + n copies of open + n copies of close. */
static char *
nested(size_t n, const char *open, const char *close, size_t *lenp)
{
	size_t lo = strlen(open), lc = strlen(close), i, off = 4;
	char *s;

	s = malloc(4 + n * (lo + lc) + 1);
	assert_non_null(s);
	memcpy(s, "a = ", 4);
	for (i = 0; i < n; i++, off += lo)
		memcpy(s + off, open, lo);
	for (i = 0; i < n; i++, off += lc)
		memcpy(s + off, close, lc);
	s[off] = '\0';
	*lenp = off;
	return s;
}

static void
test_toml__depth_limit(void **state)
{
	struct mig_toml_error err;
	struct mig_toml_doc *doc;
	char *s, buf[2048];
	size_t len, off, i;
	int r;

	(void)state;
	/* a is at depth 1, so 128 levels of arrays are the most. */
	s = nested(MIG_TOML_MAX_DEPTH, "[", "]", &len);
	doc = must_parse(s, len);
	mig_toml_free(doc);
	free(s);
	s = nested(MIG_TOML_MAX_DEPTH + 1, "[", "]", &len);
	r = mig_toml_parse(s, len, &doc, &err);
	assert_int_equal(r, MIG_ERR_PARSE);
	assert_int_equal(err.pos.line, 1);
	assert_int_equal(err.pos.col, 5 + MIG_TOML_MAX_DEPTH);
	assert_string_equal(err.msg, "nesting deeper than 128 levels");
	free(s);
	s = nested(100000, "{b=", "}", &len);
	r = mig_toml_parse(s, len, &doc, &err);
	assert_int_equal(r, MIG_ERR_PARSE);
	assert_int_equal(err.pos.col, 5 + 3 * MIG_TOML_MAX_DEPTH);
	free(s);
	/* Dotted keys and headers count too. */
	off = 0;
	for (i = 0; i < MIG_TOML_MAX_DEPTH; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%sk",
		    i > 0 ? "." : "");
	off += (size_t)snprintf(buf + off, sizeof(buf) - off, " = 1");
	doc = must_parse(buf, off);
	mig_toml_free(doc);
	buf[0] = 'x';
	memmove(buf + 2, buf, off);
	memcpy(buf, "k.", 2);
	r = mig_toml_parse(buf, off + 2, &doc, &err);
	assert_int_equal(r, MIG_ERR_PARSE);
	assert_int_equal(err.pos.col, 1 + 2 * MIG_TOML_MAX_DEPTH);
	assert_string_equal(err.msg, "key has more than 128 parts");
	/* [[a]] puts its tables one level deeper than a. */
	off = (size_t)snprintf(buf, sizeof(buf), "[[a]]\n[a");
	for (i = 0; i < MIG_TOML_MAX_DEPTH - 1; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, ".k");
	off += (size_t)snprintf(buf + off, sizeof(buf) - off, "]");
	r = mig_toml_parse(buf, off, &doc, &err);
	assert_int_equal(r, MIG_ERR_PARSE);
	assert_int_equal(err.pos.line, 2);
	assert_string_equal(err.msg, "nesting deeper than 128 levels");
}

static void
test_toml__plan(void **state)
{
	static const char plan[] =
	    "version = 1\n"
	    "name = \"billing-exports\"          # [a-z0-9_-]+\n"
	    "strategy = \"rehost\"\n"
	    "\n"
	    "[source]\n"
	    "path = \"data/billing\"\n"
	    "include = [\"**/*.csv\"]\n"
	    "exclude = [\"**/tmp/**\"]\n"
	    "follow_symlinks = false\n"
	    "\n"
	    "[destination]\n"
	    "url = \"sftp://user@host:2222/lake\"\n"
	    "\n"
	    "[encryption]\n"
	    "recipients = [\n"
	    "  \"age1abc\",  # first\n"
	    "  \"age1def\",\n"
	    "]\n"
	    "[compression]\n"
	    "zstd_level = 3\n";
	const struct mig_toml_value *root, *v;
	struct mig_toml_doc *doc;
	struct mig_toml_pos pos;

	(void)state;
	doc = must_parse(D(plan));
	root = mig_toml_root(doc);
	assert_int_equal(mig_toml_int(mig_toml_table_get(root, "version")),
	    1);
	assert_string_equal(mig_toml_string(mig_toml_get_path(root,
	    "destination.url"), NULL), "sftp://user@host:2222/lake");
	v = mig_toml_get_path(root, "encryption.recipients");
	assert_int_equal(mig_toml_array_len(v), 2);
	pos = mig_toml_value_pos(mig_toml_array_at(v, 1));
	assert_int_equal(pos.line, 17);
	assert_int_equal(pos.col, 3);
	assert_false(mig_toml_bool(mig_toml_get_path(root,
	    "source.follow_symlinks")));
	v = mig_toml_get_path(root, "compression.zstd_level");
	pos = mig_toml_value_pos(v);
	assert_int_equal(pos.line, 20);
	assert_int_equal(pos.col, 14);
	mig_toml_free(doc);
}

/* Overlong key names are cut at a character boundary in messages. */
static void
test_toml__long_key_message(void **state)
{
	struct mig_toml_error err;
	struct mig_toml_doc *doc;
	char text[1024];
	size_t off = 0, i, k;
	int r, line;
	const unsigned char *m;

	(void)state;
	for (line = 0; line < 2; line++) {
		text[off++] = '"';
		for (i = 0; i < 100; i++) {
			memcpy(text + off, "\xc3\xa9", 2);
			off += 2;
		}
		memcpy(text + off, "\" = 1\n", 6);
		off += 6;
	}
	r = mig_toml_parse(text, off, &doc, &err);
	assert_int_equal(r, MIG_ERR_PARSE);
	assert_int_equal(err.pos.line, 2);
	assert_int_equal(err.pos.col, 1);
	assert_memory_equal(err.msg, "duplicate key '\"\xc3\xa9", 18);
	assert_non_null(strstr(err.msg, "... (first defined at line 1)"));
	/* The message is still well-formed UTF-8. */
	for (m = (const unsigned char *)err.msg; *m != '\0'; m += k) {
		k = *m < 0x80 ? 1 : 2;
		if (k == 2)
			assert_true(m[0] == 0xc3 && m[1] == 0xa9);
	}
}

/*
 * Inputs that once went wrong, found by the sanitizers or by
 * tests/fuzz/fuzz_toml.c; each must give exactly this result.  A NULL
 * msg means the document is valid.
 */
static const struct bad_case regressions[] = {
	/* UBSan: memcpy(NULL, p, 0) for an empty multi-line string. */
	{ D("a = \"\"\"\"\"\""), 0, 0, NULL },
	{ D("a = \"\"\"\\\r\n\"\"\""), 0, 0, NULL },
	/* Quote runs longer than a closing delimiter and two quotes. */
	{ D("a = \"\"\"\"\"\"\"\"\""), 1, 13, "expected end of line after "
	    "value, found '\"'" },
	{ D("a = '''''''''"), 1, 13, "expected end of line after value, "
	    "found '''" },
};

static void
test_toml__regressions(void **state)
{
	const struct bad_case *c;
	struct mig_toml_error err;
	struct mig_toml_doc *doc;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(regressions) / sizeof(regressions[0]); i++) {
		c = &regressions[i];
		r = mig_toml_parse(c->doc, c->len, &doc, &err);
		if (c->msg == NULL) {
			if (r != 0)
				fail_msg("regressions[%zu]: %u:%u: %s", i,
				    err.pos.line, err.pos.col, err.msg);
			mig_toml_free(doc);
			continue;
		}
		if (r == 0) {
			mig_toml_free(doc);
			fail_msg("regressions[%zu]: accepted", i);
		}
		if (err.pos.line != c->line || err.pos.col != c->col ||
		    strcmp(err.msg, c->msg) != 0)
			fail_msg("regressions[%zu]: got %u:%u: %s", i,
			    err.pos.line, err.pos.col, err.msg);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_toml__good),
		cmocka_unit_test(test_toml__bad),
		cmocka_unit_test(test_toml__order_and_positions),
		cmocka_unit_test(test_toml__api_contract),
		cmocka_unit_test(test_toml__nul_bytes),
		cmocka_unit_test(test_toml__datetime_fields),
		cmocka_unit_test(test_toml__big_table),
		cmocka_unit_test(test_toml__depth_limit),
		cmocka_unit_test(test_toml__plan),
		cmocka_unit_test(test_toml__long_key_message),
		cmocka_unit_test(test_toml__regressions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
