package identity

import "testing"

// Return addresses after login stay on this site: the known ways around a
// prefix check all go home, while ordinary paths pass unchanged.
func TestSecurityLocalPathRefusesOpenRedirects(t *testing.T) {
	refused := []string{
		"",
		"https://evil.example",
		"HTTPS://evil.example",
		"hTtPs://evil.example/",
		"https:evil.example",
		"javascript:alert(1)",
		"//evil.example",
		"///evil.example",
		"/\\evil.example",
		"\\/evil.example",
		"/%09/evil.example",
		"/\t/evil.example",
		"/%0a/evil.example",
		"/\n/evil.example",
		"/%0d/evil.example",
		"/\r/evil.example",
		"/%0A%0D/evil.example",
		"/%00/evil.example",
		"/%2F/evil.example",
		"/%2f/evil.example",
		"/%2F%2Fevil.example",
		"/%5Cevil.example",
		"/%5cevil.example",
		"/%5C%5Cevil.example",
		"/x/%5C..%5C..%5Cevil",
		"/%7F/evil.example",
		"/%C2%85/evil.example",
		" /evil",
		"evil.example",
		"/%zz",
	}
	for _, p := range refused {
		if got := localPath(p); got != "/" {
			t.Errorf("localPath(%q) = %q, want /", p, got)
		}
	}
	kept := []string{
		"/",
		"/invitasjon",
		"/t/helse-bergen/aktiviteter?ok=ny",
		"/t/x/veiledning/1#referat",
		"/logg-inn?return_to=%2Ft%2Fx",
		"/t/æøå/side",
		"/a/b%20c",
	}
	for _, p := range kept {
		if got := localPath(p); got != p {
			t.Errorf("localPath(%q) = %q, want it unchanged", p, got)
		}
	}
}
