// Diagnostics: where the runtime and the layers above it send the lines an
// operator must see (descriptor exhaustion, select's limit, a handler that
// threw). By default they go to stderr; a logger installs itself as the sink
// so they land in the error log with a level and a timestamp.
//
//   weft::runtime::report(Severity::kWarn, "accept: too many open files; backing off");
//   weft::runtime::set_report_sink([](Severity s, std::string_view line) { ... });
#pragma once

#include <string_view>

namespace weft::runtime {

enum class Severity { kError, kWarn, kInfo, kDebug };

// Receives each reported line (without a trailing newline). Must not block;
// may be called from any thread or fiber.
using ReportSink = void (*)(Severity, std::string_view line);

// Installs `sink` (null restores stderr); returns the previous one. The
// stderr sink drops kDebug lines, as a Logger at its default level does.
ReportSink set_report_sink(ReportSink sink) noexcept;

// Sends one line to the current sink. Any thread or fiber.
void report(Severity severity, std::string_view line) noexcept;

}  // namespace weft::runtime
