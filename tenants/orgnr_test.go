package tenants

import "testing"

func TestValidOrgnr(t *testing.T) {
	cases := map[string]bool{
		"983974724":  true,  // Helse Bergen HF
		"991324968":  true,  // Helse Sør-Øst RHF
		"964338531":  true,  // Bergen kommune
		"983974725":  false, // wrong check digit
		"98397472":   false, // eight digits
		"9839747244": false,
		"98397472a":  false,
		"":           false,
	}
	for s, want := range cases {
		if got := ValidOrgnr(s); got != want {
			t.Errorf("ValidOrgnr(%q) = %v, want %v", s, got, want)
		}
	}
	// A remainder of 1 gives check digit 10: no such number is valid, whatever its last digit.
	for d := '0'; d <= '9'; d++ {
		if ValidOrgnr("00000006" + string(d)) {
			t.Errorf("00000006%c accepted although its check digit would be 10", d)
		}
	}
	if CheckOrgnr("983974725") == nil || CheckOrgnr("123") == nil || CheckOrgnr("983974724") != nil {
		t.Error("CheckOrgnr disagrees with ValidOrgnr")
	}
}
