package agreements

import (
	"strconv"

	"kportal/workers"
)

// ReceiptPDF is the receipt of a signature: who signed which version for whom
// and when, the checksum, and the whole text that was signed.
func ReceiptPDF(s *Signature, processor Operator) []byte {
	d := newPDF("Kvittering for signert databehandleravtale")
	d.footer = func(page, pages int) string {
		return "Kvittering for databehandleravtale " + s.Version + " · " + s.TenantName + " · signatur " + s.ID.String() +
			" · side " + strconv.Itoa(page) + " av " + strconv.Itoa(pages)
	}
	d.text(bold, 16, "Kvittering: signert databehandleravtale", 0, 0)
	d.space(6)
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
		d.row(r[0], r[1])
	}
	d.space(4)
	d.text(bold, 10, "Kontrollsum (SHA-256) av avtaleteksten", 0, 0)
	d.text(regular, 9, s.Checksum, 0, 0)
	d.space(4)
	d.text(regular, 9, "Kontrollsummen er beregnet av avtaleteksten nedenfor, kodet i UTF-8, slik den ble vist og signert i kportal. "+
		"Den samme teksten og kontrollsummen er lagret sammen med signaturen.", 0, 0)
	d.space(6)
	d.rule()
	for _, b := range Blocks(s.Body) {
		switch b.Kind {
		case "h1":
			d.ensure(40)
			d.space(4)
			d.text(bold, 14, b.Text, 0, 0)
			d.space(2)
		case "h2":
			d.ensure(36)
			d.space(6)
			d.text(bold, 11, b.Text, 0, 0)
			d.space(1)
		case "ul":
			for _, item := range b.Items {
				d.text(regular, 10, "•  "+item, 8, textWidth(regular, 10, "•  "))
			}
			d.space(4)
		default:
			d.text(regular, 10, b.Text, 0, 0)
			d.space(4)
		}
	}
	return d.Bytes(s.SignedAt)
}
