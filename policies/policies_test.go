package policies

import "testing"

func TestMembershipRolesGrantTheirRules(t *testing.T) {
	x, err := NewEnforcer([]Rule{{Role: "leder", Object: "goal", Action: "approve"}})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := x.Allowed("per", []string{"lis", "leder"}, "tenant-a", "goal", "approve"); !ok {
		t.Fatal("a leder membership must allow approving")
	}
	if ok, _ := x.Allowed("per", []string{"lis"}, "tenant-a", "goal", "approve"); ok {
		t.Fatal("a LIS membership must not allow approving")
	}
}

func TestRulesHoldInEveryTenantButRolesDoNot(t *testing.T) {
	x, err := NewEnforcer([]Rule{{Role: "supervisor", Object: "activity", Action: "sign"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Assign("kari", "supervisor", "tenant-a"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		person, tenant, obj, act string
		want                     bool
	}{
		{"kari", "tenant-a", "activity", "sign", true},
		{"kari", "tenant-b", "activity", "sign", false}, // role is per tenant
		{"kari", "tenant-a", "goal", "approve", false},  // no rule
		{"ola", "tenant-a", "activity", "sign", false},  // no role
	}
	for _, c := range cases {
		got, err := x.Allowed(c.person, nil, c.tenant, c.obj, c.act)
		if err != nil || got != c.want {
			t.Errorf("Allowed(%v) = %v, %v; want %v", c, got, err, c.want)
		}
	}
}
