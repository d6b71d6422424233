import { isPrivateCidr, isProdStack, stackOfUrn } from "../../policies/support";

describe("isPrivateCidr", () => {
  test.each([
    ["10.0.0.0/8", true],
    ["10.8.0.0/16", true],
    ["172.16.0.0/12", true],
    ["172.31.255.0/24", true],
    ["192.168.1.7", true],
    ["172.32.0.0/16", false],
    ["10.0.0.0/7", false],
    ["0.0.0.0/0", false],
    ["34.82.10.0/24", false],
    ["2001:db8::/32", false],
    ["not-a-cidr", false],
  ])("%s → %p", (cidr, expected) => {
    expect(isPrivateCidr(cidr)).toBe(expected);
  });
});

describe("stacks", () => {
  const urn = (stack: string) => `urn:pulumi:${stack}::cutover::gcp:redis/instance:Instance::r`;
  test.each([
    ["prod", true],
    ["production", true],
    ["prod-eu", true],
    ["staging", false],
    ["preprod", false],
    ["producer", false],
  ])("%s is prod: %p", (stack, expected) => {
    expect(stackOfUrn(urn(stack))).toBe(stack);
    expect(isProdStack(urn(stack))).toBe(expected);
  });
});
