// Conditional requests as RFC 9110 §13 orders them: which field decides, how
// entity tags compare strongly and weakly, and when If-Range lets a Range apply.
#include "http/conditional.h"

#include <doctest/doctest.h>

#include <map>
#include <string>

using namespace weft::http;

namespace {

constexpr std::time_t kModified = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
constexpr const char* kAt = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr const char* kBefore = "Sun, 06 Nov 1994 08:49:36 GMT";
constexpr const char* kAfter = "Sun, 06 Nov 1994 08:49:38 GMT";
const Validators kFile{"\"abc\"", kModified};

Precondition judge(Preconditions p) { return evaluate_preconditions(p, kFile); }

// A request stand-in: header(name) looks a field up, "" when absent.
struct FakeRequest {
  std::map<std::string, std::string, std::less<>> fields;
  std::string_view header(std::string_view name) const {
    auto it = fields.find(name);
    return it == fields.end() ? std::string_view() : std::string_view(it->second);
  }
};

}  // namespace

TEST_CASE("without precondition fields a request proceeds") {
  CHECK(judge({}) == Precondition::kProceed);
}

TEST_CASE("If-None-Match answers 304 on a weak match and decides alone") {
  CHECK(judge({.if_none_match = "\"abc\""}) == Precondition::kNotModified);
  CHECK(judge({.if_none_match = "\"a\", \"abc\""}) == Precondition::kNotModified);
  CHECK(judge({.if_none_match = "*"}) == Precondition::kNotModified);
  CHECK(judge({.if_none_match = "W/\"abc\""}) == Precondition::kNotModified);
  CHECK(judge({.if_none_match = "\"other\""}) == Precondition::kProceed);
  // When present, If-Modified-Since is not consulted.
  CHECK(judge({.if_none_match = "\"other\"", .if_modified_since = kAt}) == Precondition::kProceed);
}

TEST_CASE("If-Modified-Since answers 304 unless modified after the date") {
  CHECK(judge({.if_modified_since = kAt}) == Precondition::kNotModified);
  CHECK(judge({.if_modified_since = kAfter}) == Precondition::kNotModified);
  CHECK(judge({.if_modified_since = "Sunday, 06-Nov-94 08:49:37 GMT"}) ==
        Precondition::kNotModified);
  CHECK(judge({.if_modified_since = "Sun Nov  6 08:49:37 1994"}) == Precondition::kNotModified);
  CHECK(judge({.if_modified_since = kBefore}) == Precondition::kProceed);
  CHECK(judge({.if_modified_since = "yesterday"}) == Precondition::kProceed);
}

TEST_CASE("If-Match fails (412) unless a strong match, and decides alone") {
  CHECK(judge({.if_match = "\"other\""}) == Precondition::kFailed);
  CHECK(judge({.if_match = "W/\"abc\""}) == Precondition::kFailed);
  CHECK(judge({.if_match = "\"other\", \"abc\""}) == Precondition::kProceed);
  CHECK(judge({.if_match = "*"}) == Precondition::kProceed);
  CHECK(judge({.if_match = "\"abc\"", .if_unmodified_since = kBefore}) == Precondition::kProceed);
}

TEST_CASE("If-Unmodified-Since fails (412) when modified after the date") {
  CHECK(judge({.if_unmodified_since = kBefore}) == Precondition::kFailed);
  CHECK(judge({.if_unmodified_since = kAt}) == Precondition::kProceed);
  CHECK(judge({.if_unmodified_since = "not a date"}) == Precondition::kProceed);
}

TEST_CASE("a failed If-Match wins over a matching If-None-Match") {
  CHECK(judge({.if_match = "\"other\"", .if_none_match = "\"abc\""}) == Precondition::kFailed);
  CHECK(judge({.if_match = "\"abc\"", .if_none_match = "\"abc\""}) == Precondition::kNotModified);
}

TEST_CASE("the fields are read from a request by their lower-case names") {
  FakeRequest req;
  req.fields = {{"if-match", "a"},
                {"if-unmodified-since", "b"},
                {"if-none-match", "c"},
                {"if-modified-since", "d"}};
  const Preconditions p = Preconditions::of(req);
  CHECK(p.if_match == "a");
  CHECK(p.if_unmodified_since == "b");
  CHECK(p.if_none_match == "c");
  CHECK(p.if_modified_since == "d");
}

TEST_CASE("an entity-tag list stops matching where it breaks") {
  CHECK(etag_list_matches(" \"abc\" ", "\"abc\"", false));
  CHECK(etag_list_matches(",,\"x\",\t\"abc\"", "\"abc\"", false));
  CHECK_FALSE(etag_list_matches("abc", "\"abc\"", true));                  // unquoted
  CHECK_FALSE(etag_list_matches("\"x\", bad, \"abc\"", "\"abc\"", true));  // broken before it
  CHECK_FALSE(etag_list_matches("\"abc", "\"abc\"", true));                // unterminated
  CHECK_FALSE(etag_list_matches("", "\"abc\"", true));
  CHECK_FALSE(etag_list_matches("\"ABC\"", "\"abc\"", true));  // tags are case-sensitive
  CHECK(etag_list_matches("W/\"abc\"", "\"abc\"", true));
  CHECK_FALSE(etag_list_matches("W/\"abc\"", "\"abc\"", false));
}

TEST_CASE("If-Range lets the Range apply only while its validator matches") {
  CHECK(if_range_holds("", kFile));
  CHECK(if_range_holds("\"abc\"", kFile));
  CHECK(if_range_holds(" \"abc\" ", kFile));
  CHECK_FALSE(if_range_holds("\"stale\"", kFile));
  CHECK_FALSE(if_range_holds("W/\"abc\"", kFile));
  CHECK(if_range_holds(kAt, kFile));
  CHECK_FALSE(if_range_holds(kAfter, kFile));
  CHECK_FALSE(if_range_holds(kBefore, kFile));
  CHECK_FALSE(if_range_holds("garbage", kFile));
}
