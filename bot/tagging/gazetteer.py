"""The gazetteer: every way French (and English) news names the five countries.

Written as people write: accents, hyphens and apostrophes are folded away when the index is
built, so "Nur-Sultan", "Nour-Soultan" and "nur sultan" are all one entry. Each country has
names and demonyms in every gender and number, leaders (with their transliterations), places
old and new, and institutions. Shared places count for each country they span.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Kind(enum.Enum):
    """What a mention is; `WEIGHTS` says how strongly each kind points at a country."""

    NAME = "name"  # the country's name
    DEMONYM = "demonym"  # kazakh, ouzbèke…
    LEADER = "leader"
    INSTITUTION = "institution"
    PLACE = "place"  # capitals, cities, provinces, rivers, mountains of one country
    SHARED = "shared"  # places several of the five share: counted for each
    REGION = "region"  # Central Asia as a whole
    FOREIGN = "foreign"  # a neighbour or power abroad, or a phrase that only looks like ours
    FOREIGN_DEMONYM = "foreign demonym"  # russe, afghan…: abroad only if nothing else is ours


# In tenths, so that sums are exact and ties are real ties.
WEIGHTS = {
    Kind.NAME: 10, Kind.DEMONYM: 10, Kind.LEADER: 10, Kind.INSTITUTION: 9,
    Kind.PLACE: 8, Kind.SHARED: 6, Kind.REGION: 10, Kind.FOREIGN: 0, Kind.FOREIGN_DEMONYM: 0,
}
# Kinds that name the country itself (not a place in it): what makes it a title's subject.
NAMING_KINDS = frozenset({Kind.NAME, Kind.DEMONYM, Kind.LEADER})


@dataclass(frozen=True, slots=True)
class Entry:
    """One gazetteer phrase: the countries it points at and what kind of mention it is."""

    phrase: str
    countries: tuple[str, ...]
    kind: Kind
    plural: bool = False  # a plural demonym ("Kazakhs"): the one a diaspora check applies to
    # Derived from `kind` once, here: enum hashing in the tagger's inner loop is slow.
    weight: int = field(init=False)
    naming: bool = field(init=False)
    abroad: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", WEIGHTS[self.kind])
        object.__setattr__(self, "naming", self.kind in NAMING_KINDS)
        object.__setattr__(self, "abroad", self.kind in {Kind.FOREIGN, Kind.FOREIGN_DEMONYM})


_GAZETTEER: dict[str, dict[Kind, str]] = {
    "KZ": {
        Kind.NAME: "Kazakhstan, Kazakstan, Qazaqstan, Kazakhie",
        Kind.DEMONYM: "kazakh, kazakhe, kazakhs*, kazakhes*, kazakhstanais*, kazakhstanaise, "
                      "kazakhstanaises*, Kazakhstani, kazakhophone, kazakhophones*, "
                      "oralman, oralmans*, kandas",
        Kind.LEADER: "Tokaïev, Tokayev, Tokaev, Kassym-Jomart, Qassym-Jomart, Nazarbaïev, "
                     "Nazarbayev, Nazarbaev, Bektenov, Smaïlov, Smailov, "
                     # public figures the French press names without their country
                     "Rybakina, Bublik, Golovkin, Dimash Kudaibergen",
        Kind.PLACE: "Astana, Nur-Sultan, Nour-Soultan, Noursoultan, Nursultan, Akmola, "
                    "Tselinograd, Almaty, Alma-Ata, Alma Ata, Chymkent, Chimkent, Shymkent, "
                    "Karaganda, Karagandy, Qaraghandy, Aktobe, Aktioubinsk, Aqtobe, Atyraou, "
                    "Atyrau, Aktaou, Aktau, Pavlodar, Oust-Kamenogorsk, Ust-Kamenogorsk, "
                    "Öskemen, Semeï, Semey, Semipalatinsk, Kyzylorda, Kzyl-Orda, Taraz, "
                    "Jambyl, Djamboul, Turkestan, Kostanaï, Kostanay, Ouralsk, Uralsk, "
                    "Taldykorgan, Ekibastouz, Ekibastuz, Jezkazgan, Zhezkazgan, Baïkonour, "
                    "Baïkonur, Baikonur, Mangystaou, Mangystau, Mangghystau, Manguistaou, "
                    "Mangistau, Beket-Ata, Kokchetaou, "
                    "Kokshetau, Janaozen, Zhanaozen, Jana-Ozen, Bourabaï, Burabay, Borovoe, "
                    "Medeu, Médéo, Khorgos, Khorgas, Balkhach, Balkhash, Tengiz, Kachagan, "
                    "Kashagan, Karatchaganak, Karachaganak, Temirtaou, Temirtau, Rudny, "
                    "Ridder, Aralsk, Kourtchatov, Kurchatov, Sary-Chagan, Sary-Shagan, "
                    "Bayterek, Baïterek, Saryarka, Kourik, Kuryk",
        Kind.INSTITUTION: "Akorda, Ak Orda, Majilis, Mazhilis, Mäjilis, Kurultaï, "
                          "Kazatomprom, KazMunayGas, KazMunaiGas, Samruk-Kazyna, Air Astana, "
                          "Halyk Bank, Kaspi, tenge, tengué, Nur Otan, Amanat, KEGOC, "
                          "Kazakhtelecom, KazTransOil, Bolachak, Bolashak, AIFC, oblys, "
                          "akimat, akimats",
    },
    "KG": {
        Kind.NAME: "Kirghizstan, Kirghizistan, Kirghizie, Kyrgyzstan, Kirgizstan, Kirgizie",
        Kind.DEMONYM: "kirghiz*, kirghize, kirghizes*, kirghizstanais*, kirghizstanaise, "
                      "kirghizstanaises*, kirghizistanais*, kirghizistanaise, "
                      "kirghizistanaises*, kyrgyz*, kyrgyze, kyrgyzes*, kyrgyzstanais*, "
                      "kyrgyzstanaise, Kyrgyzstani",
        Kind.LEADER: "Japarov, Djaparov, Zhaparov, Jeparov, Sadyr Japarov, Tachiev, Tashiev, "
                     "Atambaïev, Atambaev, Atambayev, Jeenbekov, Djeenbekov, Zheenbekov, "
                     "Otounbaïeva, Otunbayeva, Otounbaeva, Bakiev, Bakiyev, Akaïev, Akaev, "
                     "Akayev, Kasymaliev, Kassymaliev",
        Kind.PLACE: "Bichkek, Bishkek, Bichkèk, Frounze, Frunze, Och, Osh, Djalal-Abad, "
                    "Jalal-Abad, Dzhalal-Abad, Jalalabad, Karakol, Tokmok, Tokmak, Naryn, "
                    "Talas, Batken, Tcholpon-Ata, Cholpon-Ata, Issyk-Koul, Issyk-Kul, "
                    "Ysyk-Köl, Issykkoul, Kara-Balta, Ouzgen, Uzgen, Kadamjaï, Kochkor, "
                    "Kerben, Kara-Souou, Kara-Suu, Kumtor, Koumtor, Kambarata, Toktogoul, "
                    "Toktogul, Ala-Archa, Son-Koul, Song-Köl, Balyktchy, Balykchy, "
                    "Manas, Tchouï, Tash-Kömür, Maïlouou-Souou, Mailuu-Suu, Sary-Tash",
        Kind.INSTITUTION: "Jogorkou Kenech, Jogorku Kenesh, Zhogorku Kenesh, Kenech, "
                          "Ala-Too, Kyrgyzaltyn, Kirghizaltyn, AUCA, "
                          "Université américaine d'Asie centrale",
    },
    "UZ": {
        Kind.NAME: "Ouzbékistan, Ouzbekistan, Uzbekistan, Özbekiston, Ouzbékie",
        Kind.DEMONYM: "ouzbek, ouzbèke, ouzbéke, ouzbeks*, ouzbèkes*, ouzbékistanais*, "
                      "ouzbékistanaise, ouzbékistanaises*, uzbek, uzbeks*, Uzbekistani, "
                      "karakalpak, karakalpaks*, karakalpake, karakalpakes*",
        Kind.LEADER: "Mirziyoyev, Mirzioïev, Mirziyoev, Mirzioyev, Mirziïoïev, Mirziyoyeva, "
                     "Shavkat, Chavkat, Karimov, Karimova, Aripov",
        Kind.PLACE: "Tachkent, Tashkent, Toshkent, Samarcande, Samarkand, Samarqand, "
                    "Boukhara, Bukhara, Buxoro, Khiva, Xiva, Ourguentch, Urgench, Ourgentch, "
                    "Noukous, Nukus, Karakalpakstan, Karakalpakie, Ferghana, Fergana, "
                    "Farg'ona, Andijan, Andijon, Andidjan, Namangan, Navoï, Navoi, Navoiy, "
                    "Termez, Termiz, Karchi, Qarshi, Djizak, Jizzakh, Jizzax, Kokand, Qoqon, "
                    "Margilan, Marguilan, Chakhrisabz, Shahrisabz, Gulistan, Almalyk, "
                    "Olmaliq, Angren, Muynak, Moynaq, Mouïnak, Tchirtchik, Tchirtchiq, Chirchiq, "
                    "Chirchik, Khorezm, Khorazm, Kachkadaria, Kashkadarya, Sourkhandaria, "
                    "Surkhandarya, Tcharvak, Charvak",
        Kind.INSTITUTION: "Oliy Majlis, Uzbekistan Airways, Ouzbekistan Airways, "
                          "Uzbekneftegaz, Ouzbekneftegaz, Uzbekneftegas, Ouzautomotors, "
                          "UzAuto, Navoiyuran, viloyat, viloyats, hokim, hokims, hokimiyat, "
                          "khokim, khokimiyat, mahalla, mahallas",
    },
    "TJ": {
        Kind.NAME: "Tadjikistan, Tajikistan, Tadjikie, Tojikiston",
        Kind.DEMONYM: "tadjik, tadjike, tadjiks*, tadjikes*, tajik, tajiks*, tadjikistanais*, "
                      "tadjikistanaise, tadjikistanaises*, Tajikistani",
        Kind.LEADER: "Rahmon, Rakhmon, Rahmonov, Rakhmonov, Emomali, Emomalii, Rasulzoda, "
                     "Rassoulzoda",
        Kind.PLACE: "Douchanbé, Douchanbe, Dushanbe, Douchambé, Stalinabad, Khatlon, Khodjent, "
                    "Khujand, Khodjend, Khoudjand, Léninabad, Kouliab, Kulob, Kulyab, Bokhtar, "
                    "Bohtar, Kourgan-Tioubé, Kurgan-Tyube, Khorog, Khorugh, Istaravchan, "
                    "Istaravshan, Pendjikent, Panjakent, Penjikent, Isfara, Vahdat, "
                    "Toursounzoda, Tursunzoda, Haut-Badakhchan, Gorno-Badakhshan, GBAO, "
                    "Pamir, Pamirs, Vakhch, Vakhsh, Piandj, Pyandj, Iskanderkoul, "
                    "Sughd, Soghd, Roshtkala, Ichkachim, Varzob, Hisor, Guissar, Kofarnihon, "
                    "Yaghnob, yaghnobi, yaghnobis",
        Kind.INSTITUTION: "Rogoun, Rogun, Nourek, Nurek, Majlisi Oli, Majlisi Namoyandagon, "
                          "somoni, somonis, Somon Air, TALCO, Barqi Tojik, Barki Tojik, "
                          "hukumat, jamoat, jamoats",
    },
    "TM": {
        Kind.NAME: "Turkménistan, Turkmenistan, Turkménie, Türkmenistan",
        Kind.DEMONYM: "turkmène, turkmènes*, turkmen, turkmens*, turkménistanais*, "
                      "turkménistanaise, turkménistanaises*, Turkmenistani",
        Kind.LEADER: "Berdimouhamedov, Berdymoukhamedov, Berdimuhamedow, Berdymukhamedov, "
                     "Berdimuhamedov, Berdymuhamedov, Berdymoukhammedov, Berdimoukhamedov, "
                     "Gourbangouly, Gurbanguly, Niazov, Niyazov",
        Kind.PLACE: "Achgabat, Achkhabad, Ashgabat, Ashkhabad, Aşgabat, Asgabat, Turkmenbashi, "
                    "Turkmenbachi, Turkmenbachy, Türkmenbaşy, Turkmenbashy, velayat, velayats, "
                    "welayat, "
                    "Krasnovodsk, Merv, Turkmenabat, Türkmenabat, Tchardjou, Chardzhou, "
                    "Dachoguz, Dashoguz, Daşoguz, Balkanabat, Avaza, Awaza, Darvaza, "
                    "Darweze, Arkadag, Konye-Ourguentch, Kunya-Urgench, Köneürgenç, "
                    "Galkynych, Galkynysh, Lebap, Karakoum, Karakum, Kopet-Dag, Kopetdag, "
                    "Gonur, Ahal, Akhal, Akhal-Téké, Akhal-Teke, Akhaltéké",
        Kind.INSTITUTION: "Mejlis, Medjlis, Halk Maslahaty, Türkmengaz, Turkmengaz, "
                          "Turkmengas, Gazoduc TAPI, pipeline TAPI, neutralité permanente",
    },
    "REGION": {
        Kind.REGION: "Asie centrale, Asie du Centre, Central Asia, Central Asian, "
                     "centrasiatique, centrasiatiques, centre-asiatique, centre-asiatiques, "
                     "centroasiatique, centroasiatiques, C5, C5+1, "
                     "cinq pays de la région, cinq États de la région, cinq républiques, "
                     "cinq chefs d'État de la région, sommet des cinq, IFAS, "
                     "Fonds international pour le sauvetage de la mer d'Aral, avec les cinq, CAFA, "
                     "Turkestan soviétique, Turkestan russe, Turkestan occidental, "
                     "cinq présidents, cinq chefs d'État, cinq dirigeants, cinq ministres, "
                     "cinq pays, toute la région",
    },
    # Abroad: a title about one of these, naming none of ours, is filed under OTHER; a
    # people named as living in one of them is a diaspora, not its homeland.
    "": {
        Kind.FOREIGN: "Turkestan oriental, Turkestan chinois, Petropavlovsk-Kamtchatski, "
                      "Petropavlovsk-Kamchatsky, Badakhchan afghan, Pamir afghan, Altaï mongol, "
                      "Altaï russe, Altaï chinois, OCS, BRICS, "
                      "Organisation de coopération de Shanghai, "
                      "Russie, Moscou, Kremlin, Saint-Pétersbourg, Kazan, Tatarstan, Sibérie, "
                      "Novossibirsk, Omsk, Orenbourg, Astrakhan, Tchétchénie, Daghestan, "
                      "Chine, Pékin, Beijing, Tianjin, Xinjiang, Ouroumtsi, Urumqi, Kachgar, "
                      "Afghanistan, Kaboul, Mazar-e Charif, Mazar-i-Sharif, Hérat, Wakhan, "
                      "Kandahar, Iran, Téhéran, Golestan, Mechhed, Turquie, Ankara, Istanbul, "
                      "Pakistan, Islamabad, Gwadar, Baloutchistan, Inde, New Delhi, Mongolie, "
                      "Oulan-Bator, Bayan-Ölgii, Azerbaïdjan, Bakou, Géorgie, Tbilissi, "
                      "Arménie, Erevan, Ukraine, Kiev, Kyiv, Biélorussie, Bélarus, Minsk, "
                      "Japon, Tokyo, Corée du Sud, Corée, Séoul, États-Unis, Washington, "
                      "Arabie saoudite, Riyad, Émirats arabes unis, Dubaï, Qatar, Doha, "
                      "Israël, Syrie, Damas, Ouïghours, Ouïghour",
        Kind.FOREIGN_DEMONYM: "afghan, afghane, afghans, afghanes, afghano, pakistanais, "
                              "pakistanaise, pakistanaises, russe, russes, russo, chinois, "
                              "chinoise, chinoises, sino, iranien, iranienne, iraniens, "
                              "iraniennes, irano, turc, turque, turcs, turques, turco, mongol, "
                              "mongole, mongols, mongoles, azerbaïdjanais, azerbaïdjanaise, "
                              "azerbaïdjanaises, azéri, azérie, azéris, ouïghoure, ouïghoures",
    },
}

# Places several of the five share, with the countries they span.
_SHARED: dict[str, tuple[str, ...]] = {
    "mer Caspienne, la Caspienne, Caspienne, Caspian Sea": ("KZ", "TM"),
    "mer d'Aral, Aral Sea, Aral, Aralkoum, Aralkum": ("KZ", "UZ"),
    "Corridor transcaspien, transcaspien, transcaspienne, transcaspiens, transcaspiennes": (
        "KZ", "TM"),
    "Amou-Daria, Amou-Darya, Amu Darya, Amudarya, Amou Daria, Oxus": ("TJ", "UZ", "TM"),
    "Syr-Daria, Syr-Darya, Syrdarya, Syr Daria, Iaxarte": ("KG", "UZ", "TJ", "KZ"),
    "vallée de Ferghana, vallée de Fergana, vallée du Ferghana, vallée du Fergana, "
    "Fergana Valley": ("UZ", "KG", "TJ"),
    "Tian Shan, Tien Shan, Tianshan, Tian-Chan, Tien-Chan": ("KG", "KZ"),
    "Kyzylkoum, Kyzyl-Koum, Kyzylkum, Kyzyl Kum": ("UZ", "KZ"),
    "Zeravchan, Zeravshan, Zarafshan, Zéravchane": ("TJ", "UZ"),
    "Alaï, Alay": ("KG", "TJ"),
    "Sogdiane": ("TJ", "UZ"),
}

def entries() -> list[Entry]:
    """Every gazetteer phrase as an `Entry`; a trailing `*` in the tables marks a plural."""
    out: list[Entry] = []
    for country, kinds in _GAZETTEER.items():
        codes: tuple[str, ...] = (country,) if country else ()
        for kind, phrases in kinds.items():
            for phrase in _split(phrases):
                plural = phrase.endswith("*")
                out.append(Entry(phrase.rstrip("*"), codes, kind, plural))
    for phrases, codes in _SHARED.items():
        out.extend(Entry(phrase, codes, Kind.SHARED) for phrase in _split(phrases))
    return out


def _split(phrases: str) -> list[str]:
    return [p.strip() for p in phrases.split(",") if p.strip()]
