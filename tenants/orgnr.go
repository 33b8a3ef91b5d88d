package tenants

import "kportal/modules/apperr"

// ValidOrgnr reports whether s is a Norwegian organisation number: nine digits
// whose last is the modulus-11 check digit of the first eight (weights
// 3 2 7 6 5 4 3 2; a remainder giving check digit 10 makes the number invalid).
func ValidOrgnr(s string) bool {
	if len(s) != 9 {
		return false
	}
	weights := [8]int{3, 2, 7, 6, 5, 4, 3, 2}
	sum := 0
	for i, c := range s {
		if c < '0' || c > '9' {
			return false
		}
		if i < 8 {
			sum += int(c-'0') * weights[i]
		}
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	return check != 10 && check == int(s[8]-'0')
}

// CheckOrgnr returns a user-facing error for an invalid organisation number.
func CheckOrgnr(s string) error {
	if len(s) != 9 {
		return apperr.New(apperr.Invalid, "Organisasjonsnummeret må ha ni sifre.")
	}
	if !ValidOrgnr(s) {
		return apperr.New(apperr.Invalid, "Organisasjonsnummeret %s er ikke gyldig (kontrollsifferet stemmer ikke).", s)
	}
	return nil
}

// ValidKommunenummer reports whether s is four digits.
func ValidKommunenummer(s string) bool {
	if len(s) != 4 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
