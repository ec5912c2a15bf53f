/* Which sanitizer this translation unit is built with: EDO_ASAN (AddressSanitizer) and EDO_TSAN
 * (ThreadSanitizer), for gcc (__SANITIZE_*__) and clang (__has_feature). */
#ifndef EDO_PLATFORM_SANITIZERS_H
#define EDO_PLATFORM_SANITIZERS_H

#if defined(__SANITIZE_ADDRESS__)
#define EDO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EDO_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define EDO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EDO_TSAN 1
#endif
#endif

#endif
