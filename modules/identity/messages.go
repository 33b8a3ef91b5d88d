package identity

import (
	"fmt"
	"strings"
)

// norwegian holds kportal's wording for Kratos' UI texts, by message id
// (https://www.ory.sh/docs/kratos/concepts/ui-messages). Texts with values take
// them from the message context; an unknown id falls back to Kratos' English.
var norwegian = map[int64]string{
	1010001: "Logg inn",
	1010002: "Logg inn med %[provider]s",
	1010003: "Bekreft at det er deg ved å logge inn på nytt.",
	1010013: "Fortsett",
	1010014: "Vi har sendt en engangskode til e-postadressen din. Finner du den ikke, sjekk at adressen er riktig skrevet og se i søppelpost.",
	1010015: "Send meg en engangskode",
	1010016: "Du har allerede en bruker med denne e-postadressen. Logg inn for å koble til den nye innloggingsmåten.",
	1010022: "Logg inn med passord",
	1040003: "Fortsett",
	1040007: "Opprett bruker med passord",
	1040001: "Opprett bruker",
	1040002: "Opprett bruker med %[provider]s",
	1040005: "Vi har sendt en kode til e-postadressen din. Skriv den inn for å fullføre.",
	1040006: "Opprett bruker med engangskode",
	1040008: "Tilbake",
	1040009: "Velg hvordan du vil logge inn.",
	1050001: "Endringene er lagret.",
	1050002: "Koble til %[provider]s",
	1050003: "Koble fra %[provider]s",
	1060001: "Kontoen din er gjenopprettet. Sett et nytt passord nå.",
	1060002: "Vi har sendt en e-post med en lenke for å gjenopprette kontoen.",
	1060003: "Vi har sendt en kode til e-postadressen du oppga, hvis den er registrert hos oss. Finner du den ikke, sjekk at adressen er riktig skrevet og se i søppelpost.",
	1070001: "Passord",
	1070003: "Lagre",
	1070004: "E-post",
	1070005: "Send",
	1070006: "Bekreft kode",
	1070007: "E-post",
	1070008: "Send koden på nytt",
	1070009: "Fortsett",
	1070010: "Gjenopprettingskode",
	1070011: "Bekreftelseskode",
	1070012: "Registreringskode",
	1070013: "Innloggingskode",
	1080001: "Vi har sendt en e-post med en lenke for å bekrefte adressen.",
	1080002: "E-postadressen din er bekreftet.",
	1080003: "Vi har sendt en kode til e-postadressen din. Skriv den inn for å bekrefte adressen.",
	4000001: "%[reason]s",
	4000002: "Feltet må fylles ut.",
	4000003: "Må være minst %[min_length]v tegn.",
	4000005: "Passordet kan ikke brukes: %[reason]s",
	4000006: "E-postadressen eller passordet er feil. Sjekk for skrivefeil.",
	4000007: "Det finnes allerede en bruker med denne e-postadressen.",
	4000010: "Kontoen er ikke aktivert ennå. Har du bekreftet e-postadressen?",
	4000028: "Du logget inn med en annen bruker enn den som er i bruk. Logg ut først.",
	4000031: "Passordet ligner for mye på e-postadressen.",
	4000032: "Passordet må ha minst %[min_length]v tegn.",
	4000033: "Passordet kan ha høyst %[max_length]v tegn.",
	4000035: "Denne brukeren finnes ikke, eller har ingen innloggingsmåte satt opp.",
	4010001: "Innloggingen tok for lang tid. Prøv igjen.",
	4010008: "Koden er ugyldig eller allerede brukt. Prøv igjen.",
	4040001: "Registreringen tok for lang tid. Prøv igjen.",
	4040003: "Koden er ugyldig eller allerede brukt. Prøv igjen.",
	4060004: "Koden er ugyldig eller allerede brukt. Prøv igjen.",
	4060005: "Gjenopprettingen tok for lang tid. Prøv igjen.",
	4060006: "Koden er ugyldig eller allerede brukt. Prøv igjen.",
	4070005: "Bekreftelsen tok for lang tid. Prøv igjen.",
	4070006: "Koden er ugyldig eller allerede brukt. Prøv igjen.",
}

// translate returns kportal's Norwegian text for a Kratos UI text.
func translate(t uiText) string {
	tmpl, ok := norwegian[t.ID]
	if !ok {
		// Labels of identity traits carry the schema's title, which is Norwegian.
		return t.Text
	}
	if !strings.Contains(tmpl, "%[") {
		return tmpl
	}
	out := tmpl
	for k, v := range t.Context {
		out = strings.ReplaceAll(out, "%["+k+"]s", fmt.Sprint(v))
		out = strings.ReplaceAll(out, "%["+k+"]v", fmt.Sprint(v))
	}
	if strings.Contains(out, "%[") {
		return t.Text
	}
	return out
}
