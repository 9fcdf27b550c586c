"""The fake's default supported-regions fixture: every real region id, each with plausible upper-tier colos.

Why made up: Cloudflare publishes only four region names (aws ``us-east-1``/``us-west-2``, gcp
``us-central1``/``europe-west1``) and no complete list (reference section 3.7). The fake still has to answer
``supported_regions`` and validate writes (code 1157), so it accepts every region id in ``agent/data/regions.json``
and pairs each with the IATA code of a Cloudflare data center near that region's city. The codes for the documented
regions match the documentation example; all others are guesses and are NOT Cloudflare data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib import resources

__all__ = ["default_supported_regions", "plausible_colos", "supported_regions_fixture"]

# "region:COLO[,COLO]" per vendor; one string per line keeps the table reviewable.
_COLOS: dict[str, str] = {
    "aws": """
        af-south-1:CPT ap-east-1:HKG ap-east-2:TPE ap-northeast-1:NRT,KIX ap-northeast-2:ICN ap-northeast-3:KIX
        ap-south-1:BOM ap-south-2:HYD ap-southeast-1:SIN ap-southeast-2:SYD ap-southeast-3:CGK ap-southeast-4:MEL
        ap-southeast-5:KUL ap-southeast-6:AKL ap-southeast-7:BKK ca-central-1:YUL ca-west-1:YYC cn-north-1:PEK
        cn-northwest-1:PEK eu-central-1:FRA eu-central-2:ZRH eu-isoe-west-1:CDG eu-north-1:ARN eu-south-1:MXP
        eu-south-2:MAD eu-west-1:DUB eu-west-2:LHR eu-west-3:CDG eusc-de-east-1:BER il-central-1:TLV
        me-central-1:DXB me-south-1:BAH mx-central-1:QRO sa-east-1:GRU us-east-1:IAD,EWR us-east-2:CMH
        us-gov-east-1:CMH us-gov-west-1:PDX us-iso-east-1:IAD us-iso-west-1:DEN us-isob-east-1:IAD
        us-isob-west-1:DEN us-isof-east-1:IAD us-isof-south-1:DFW us-west-1:SJC us-west-2:SEA
    """,
    "gcp": """
        africa-south1:JNB asia-east1:TPE asia-east2:HKG asia-northeast1:NRT asia-northeast2:KIX asia-northeast3:ICN
        asia-south1:BOM asia-south2:DEL asia-southeast1:SIN asia-southeast2:CGK australia-southeast1:SYD
        australia-southeast2:MEL europe-central2:WAW europe-north1:HEL europe-north2:ARN europe-southwest1:MAD
        europe-west1:BRU,AMS europe-west10:BER europe-west12:MXP europe-west2:LHR europe-west3:FRA europe-west4:AMS
        europe-west6:ZRH europe-west8:MXP europe-west9:CDG me-central1:DOH me-central2:DMM me-west1:TLV
        northamerica-northeast1:YUL northamerica-northeast2:YYZ northamerica-south1:QRO southamerica-east1:GRU
        southamerica-west1:SCL us-central1:ORD us-central2:DFW us-east1:ATL us-east4:IAD us-east5:CMH us-east7:ATL
        us-south1:DFW us-west1:SEA us-west2:LAX us-west3:SLC us-west4:LAS us-west8:PHX
    """,
    "azure": """
        australiacentral:CBR australiacentral2:CBR australiaeast:SYD australiasoutheast:MEL austriaeast:VIE
        belgiumcentral:BRU brazilsouth:GRU brazilsoutheast:GIG canadacentral:YYZ canadaeast:YUL centralindia:BOM
        centralus:ORD,OMA centraluseuap:ORD chilecentral:SCL denmarkeast:CPH eastasia:HKG eastus:IAD,EWR eastus2:IAD
        eastus2euap:IAD eastusstg:IAD francecentral:CDG francesouth:MRS germanynorth:HAM germanywestcentral:FRA
        indonesiacentral:CGK israelcentral:TLV italynorth:MXP japaneast:NRT japanwest:KIX jioindiacentral:NAG
        jioindiawest:BOM koreacentral:ICN koreasouth:PUS malaysiawest:KUL mexicocentral:QRO newzealandnorth:AKL
        northcentralus:ORD northeurope:DUB norwayeast:OSL norwaywest:SVG polandcentral:WAW qatarcentral:DOH
        southafricanorth:JNB southafricawest:CPT southcentralus:SAT,DFW southcentralusstg:DFW southeastasia:SIN
        southindia:MAA spaincentral:MAD swedencentral:ARN switzerlandnorth:ZRH switzerlandwest:GVA uaecentral:AUH
        uaenorth:DXB uksouth:LHR ukwest:MAN westcentralus:DEN westeurope:AMS westindia:BOM westus:SJC westus2:SEA
        westus3:PHX
    """,
    "oci": """
        af-johannesburg-1:JNB ap-batam-1:SIN ap-chiyoda-1:NRT ap-chuncheon-1:ICN ap-chuncheon-2:ICN
        ap-dcc-canberra-1:CBR ap-dcc-gazipur-1:DAC ap-hyderabad-1:HYD ap-ibaraki-1:NRT ap-melbourne-1:MEL
        ap-mumbai-1:BOM ap-osaka-1:KIX ap-seoul-1:ICN ap-seoul-2:ICN ap-singapore-1:SIN ap-singapore-2:SIN
        ap-suwon-1:ICN ap-sydney-1:SYD ap-tokyo-1:NRT ca-montreal-1:YUL ca-toronto-1:YYZ eu-amsterdam-1:AMS
        eu-crissier-1:GVA eu-dcc-dublin-1:DUB eu-dcc-dublin-2:DUB eu-dcc-milan-1:MXP eu-dcc-milan-2:MXP
        eu-dcc-rating-1:DUS eu-dcc-rating-2:DUS eu-dcc-zurich-1:ZRH eu-frankfurt-1:FRA eu-frankfurt-2:FRA
        eu-jovanovac-1:BEG eu-madrid-1:MAD eu-madrid-2:MAD eu-marseille-1:MRS eu-milan-1:MXP eu-paris-1:CDG
        eu-stockholm-1:ARN eu-zurich-1:ZRH il-jerusalem-1:TLV me-abudhabi-1:AUH me-abudhabi-2:AUH me-abudhabi-3:AUH
        me-abudhabi-4:AUH me-dcc-doha-1:DOH me-dcc-muscat-1:MCT me-dubai-1:DXB me-jeddah-1:JED me-riyadh-1:RUH
        mx-monterrey-1:MTY mx-queretaro-1:QRO sa-bogota-1:BOG sa-santiago-1:SCL sa-saopaulo-1:GRU
        sa-valparaiso-1:SCL sa-vinhedo-1:VCP uk-cardiff-1:MAN uk-gov-cardiff-1:MAN uk-gov-london-1:LHR
        uk-london-1:LHR us-abilene-1:DFW us-ashburn-1:IAD us-boardman-1:PDX us-chicago-1:ORD us-dallas-1:DFW
        us-gov-ashburn-1:IAD us-gov-chicago-1:ORD us-gov-phoenix-1:PHX us-langley-1:IAD us-luke-1:PHX
        us-phoenix-1:PHX us-saltlake-2:SLC us-sanjose-1:SJC us-somerset-1:CMH us-thames-1:IAD
    """,
}

_TABLE: dict[tuple[str, str], tuple[str, ...]] = {
    (vendor, pair.split(":")[0]): tuple(pair.split(":")[1].split(","))
    for vendor, text in _COLOS.items()
    for pair in text.split()
}


def plausible_colos(vendor: str, region: str) -> list[str]:
    """Upper-tier colo codes near `region` (made up, see the module docstring); ``[]`` for an unknown region."""
    return list(_TABLE.get((vendor, region), ()))


def default_supported_regions() -> dict[str, list[str]]:
    """Region ids per vendor from ``agent/data/regions.json`` (the fake's default fixture)."""
    text = resources.files("agent").joinpath("data/regions.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return {vendor: list(regions) for vendor, regions in data.items()}


def supported_regions_fixture(
    regions: Mapping[str, Sequence[str | Mapping[str, object]]] | None,
) -> dict[str, list[dict[str, object]]]:
    """Build the ``vendors`` object of a supported_regions answer.

    `regions` maps vendor -> region names (colos are filled in with `plausible_colos`), or vendor -> ready
    ``{"name", "upper_tier_colos"}`` objects when a test wants exact colos. ``None`` means the default fixture.
    """
    source = default_supported_regions() if regions is None else regions
    vendors: dict[str, list[dict[str, object]]] = {}
    for vendor, items in source.items():
        entries: list[dict[str, object]] = []
        for item in items:
            if isinstance(item, str):
                entries.append({"name": item, "upper_tier_colos": plausible_colos(vendor, item)})
            else:
                entries.append({"name": str(item["name"]), "upper_tier_colos": list(item.get("upper_tier_colos", []))})  # type: ignore[call-overload]
        vendors[vendor] = entries
    return vendors
