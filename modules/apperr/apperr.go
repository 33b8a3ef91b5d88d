// Package apperr is kportal's one application error type: a code that maps to an
// HTTP status, a message safe to show the user (Norwegian), and an internal cause
// that is logged but never shown. Modelled on benbjohnson/wtf's error.go.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Code classifies an error for callers and for the HTTP layer.
type Code string

const (
	Invalid      Code = "invalid"
	NotFound     Code = "not_found"
	Conflict     Code = "conflict"
	Forbidden    Code = "forbidden"
	Unauthorized Code = "unauthorized"
	Unavailable  Code = "unavailable"
	Internal     Code = "internal"
	// RateLimited: too many attempts in a while; the error says when to retry.
	RateLimited Code = "rate_limited"
)

// Error is an error a user may see: Message is written for them.
type Error struct {
	Code    Code
	Message string
	Cause   error // logged, never shown
	// Fields holds what is wrong with each form field (field name → message),
	// so a form can show the message next to the field.
	Fields map[string]string
	// RetryAfter is how long to wait before trying again (RateLimited); the
	// HTTP layer sends it as Retry-After.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Cause }

// New returns an error with a code and a user-facing message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap attaches an internal cause to a user-facing error.
func Wrap(cause error, code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// CodeOf returns the code of err, Internal for anything that is not an *Error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// MessageOf returns what the user may be told about err.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return defaultMessages[Internal]
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// Status maps a code to its HTTP status.
func Status(code Code) int {
	switch code {
	case Invalid:
		return http.StatusUnprocessableEntity
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case Forbidden:
		return http.StatusForbidden
	case Unauthorized:
		return http.StatusUnauthorized
	case Unavailable:
		return http.StatusServiceUnavailable
	case RateLimited:
		return http.StatusTooManyRequests
	default:
		return http.StatusInternalServerError
	}
}

// FromStatus is the code for an HTTP status, for errors raised by the router itself.
func FromStatus(status int) Code {
	switch {
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		return NotFound
	case status == http.StatusForbidden:
		return Forbidden
	case status == http.StatusUnauthorized:
		return Unauthorized
	case status == http.StatusConflict:
		return Conflict
	case status == http.StatusServiceUnavailable:
		return Unavailable
	case status == http.StatusTooManyRequests:
		return RateLimited
	case status >= 400 && status < 500:
		return Invalid
	default:
		return Internal
	}
}

var defaultMessages = map[Code]string{
	Invalid:      "Noe i forespørselen er ikke gyldig.",
	NotFound:     "Vi fant ikke det du lette etter.",
	Conflict:     "Dette er allerede endret av noen andre.",
	Forbidden:    "Du har ikke tilgang til dette.",
	Unauthorized: "Du må logge inn for å se dette.",
	Unavailable:  "Tjenesten er midlertidig utilgjengelig. Prøv igjen om litt.",
	Internal:     "Noe gikk galt hos oss. Feilen er logget.",
	RateLimited:  "Det har vært for mange forsøk på kort tid. Vent litt og prøv igjen.",
}

// DefaultMessage is the generic user-facing text for a code.
func DefaultMessage(code Code) string { return defaultMessages[code] }

// Default returns an error with code and its generic message.
func Default(code Code) *Error { return &Error{Code: code, Message: defaultMessages[code]} }

// InvalidFields returns an Invalid error with a message per form field; it is
// nil when fields is empty, so a checker can return it directly.
func InvalidFields(fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	return &Error{Code: Invalid, Message: "Noe i skjemaet må rettes før det kan lagres.", Fields: fields}
}

// RetryAfterOf returns how long err asks the client to wait (0 when it does not).
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// FieldsOf returns the per-field messages of err (nil when it has none).
func FieldsOf(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
