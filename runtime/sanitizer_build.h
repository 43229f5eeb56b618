// Which sanitizer this build runs under, spelled the same for GCC and Clang:
// GCC defines __SANITIZE_ADDRESS__ / __SANITIZE_THREAD__, Clang answers
// __has_feature(address_sanitizer) / __has_feature(thread_sanitizer).
//
//   #if WEFT_TSAN
//   #include <sanitizer/tsan_interface.h>
//   #endif
#pragma once

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif

#if !defined(WEFT_ASAN) && defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN 1
#endif
#if !defined(WEFT_TSAN) && defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#endif

#ifndef WEFT_ASAN
#define WEFT_ASAN 0
#endif
#ifndef WEFT_TSAN
#define WEFT_TSAN 0
#endif
