// Maps HelseID claims to kportal's identity traits. The HPR number
// (helseid://claims/hpr/hpr_number) is not a trait: kportal stores it itself.
local claims = std.extVar('claims');
{
  identity: {
    traits: {
      email: claims.email,
      name: {
        given: claims.given_name,
        family: claims.family_name,
      },
    },
  },
}
