package identity

import (
	"context"
	"fmt"
	"net/http"

	kratos "github.com/ory/kratos-client-go"
)

// SchemaID is kportal's identity schema (deploy/kratos/identity.schema.json).
const SchemaID = "person"

// EnsureIdentity returns the Kratos identity with this e-mail, creating it with
// the given names and password when it does not exist (seeds, tests, imports).
// The address is marked verified: whoever calls this vouches for it.
func (k *Kratos) EnsureIdentity(ctx context.Context, email, given, family, password string) (*kratos.Identity, error) {
	found, _, err := k.Admin.IdentityAPI.ListIdentities(ctx).CredentialsIdentifier(email).Execute()
	if err != nil {
		return nil, fmt.Errorf("looking up identity %s: %w", email, err)
	}
	if len(found) > 0 {
		return &found[0], nil
	}
	body := kratos.NewCreateIdentityBody(SchemaID, map[string]any{
		"email": email,
		"name":  map[string]any{"given": given, "family": family},
	})
	if password != "" {
		body.Credentials = &kratos.IdentityWithCredentials{Password: &kratos.IdentityWithCredentialsPassword{
			Config: &kratos.IdentityWithCredentialsPasswordConfig{Password: &password},
		}}
	}
	body.VerifiableAddresses = []kratos.VerifiableIdentityAddress{{Value: email, Via: "email", Verified: true, Status: "completed"}}
	id, resp, err := k.Admin.IdentityAPI.CreateIdentity(ctx).CreateIdentityBody(*body).Execute()
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusConflict {
			// Created by someone else since the lookup.
			found, _, lerr := k.Admin.IdentityAPI.ListIdentities(ctx).CredentialsIdentifier(email).Execute()
			if lerr == nil && len(found) > 0 {
				return &found[0], nil
			}
		}
		return nil, fmt.Errorf("creating identity %s: %w", email, describe(err))
	}
	return id, nil
}

func describe(err error) error {
	if oe, ok := err.(*kratos.GenericOpenAPIError); ok {
		return fmt.Errorf("%s: %s", oe.Error(), oe.Body())
	}
	return err
}

// VerifiedEmails returns the e-mail addresses of an identity that Kratos has
// verified, asked afresh (not from the session cache), since it decides
// whether an invitation may be accepted.
func (k *Kratos) VerifiedEmails(ctx context.Context, identityID string) ([]string, error) {
	id, _, err := k.Admin.IdentityAPI.GetIdentity(ctx, identityID).Execute()
	if err != nil {
		return nil, unavailable(describe(err))
	}
	var out []string
	for _, a := range id.VerifiableAddresses {
		if a.Verified && a.Via == "email" {
			out = append(out, a.Value)
		}
	}
	return out, nil
}
