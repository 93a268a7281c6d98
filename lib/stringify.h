/* stringify.h - a limit's number inside a message that is one string
 * literal: "longer than " MB_STRINGIFY(MB_PASSWORD_MAX) " characters" is
 * "longer than 1024 characters", and follows the limit when it changes.
 * Only for limits defined as a plain number (an expression would be
 * spelled out as written). */
#ifndef MAILBAG_STRINGIFY_H
#define MAILBAG_STRINGIFY_H

#define MB_STRINGIFY_(x) #x
#define MB_STRINGIFY(x) MB_STRINGIFY_(x)

#endif
