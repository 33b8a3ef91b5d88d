package agreements

import (
	"kportal/modules/pdfdoc"
	"kportal/workers"
)

// ReceiptPDF is the receipt of a signature: who signed which version for whom
// and when, the checksum, and the whole text that was signed.
func ReceiptPDF(s *Signature, processor Operator) ([]byte, error) {
	d := pdfdoc.New("Kvittering for signert databehandleravtale", s.SignedAt, func(page, pages string) string {
		return "Kvittering for databehandleravtale " + s.Version + " · " + s.TenantName + " · signatur " + s.ID.String() +
			" · side " + page + " av " + pages
	})
	d.Bold(16, "Kvittering: signert databehandleravtale")
	d.Space(6)
	controller := s.TenantName
	if s.Orgnr != "" {
		controller += ", org.nr. " + s.Orgnr
	}
	if s.Kommunenummer != "" {
		controller += ", kommunenummer " + s.Kommunenummer
	}
	processorText := processor.Name
	if processor.Orgnr != "" {
		processorText += ", org.nr. " + processor.Orgnr
	}
	rows := [][2]string{
		{"Behandlingsansvarlig", controller},
		{"Databehandler", processorText},
		{"Avtaleversjon", s.Version + " (publisert " + norwegianDate(s.VersionPublished) + ")"},
		{"Signert av", s.SignerName + ", " + s.SignerTitle},
		{"Tidspunkt", s.SignedAt.In(workers.Oslo).Format("02.01.2006 kl. 15:04:05") + " (norsk tid)"},
		{"Signatur-ID", s.ID.String()},
	}
	for _, r := range rows {
		d.Row(r[0], r[1])
	}
	d.Space(4)
	d.Bold(10, "Kontrollsum (SHA-256) av avtaleteksten")
	d.Text(9, s.Checksum)
	d.Space(4)
	d.Text(9, "Kontrollsummen er beregnet av avtaleteksten nedenfor, kodet i UTF-8, slik den ble vist og signert i kportal. "+
		"Den samme teksten og kontrollsummen er lagret sammen med signaturen.")
	d.Space(6)
	d.Rule()
	for _, b := range Blocks(s.Body) {
		switch b.Kind {
		case "h1":
			d.Heading(14, b.Text)
		case "h2":
			d.Heading(11, b.Text)
		case "ul":
			for _, item := range b.Items {
				d.Bullet(10, item)
			}
			d.Space(4)
		default:
			d.Text(10, b.Text)
			d.Space(4)
		}
	}
	return d.Bytes()
}
